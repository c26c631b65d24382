rule data:
    input:
        data_inputs,
    output:
        train=out("results/data/{task}/train.jsonl"),
        validation=out("results/data/{task}/validation.jsonl"),
        test=out("results/data/{task}/test.jsonl"),
        meta=out("results/data/{task}/meta.json"),
    log:
        out("logs/data/{task}.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        task=data_task_spec,
        split=canonical(config["split"]),
        seed=DATA_SEED,
        # A user's data path is relative to where snakemake runs (the working directory).
        base_dir=".",
    script:
        "../scripts/build_data.py"


# Every item against each model's context as soon as the data exists: too_long: fail stops
# here, naming the file and row, before any model job; the model jobs wait for it.
rule check_context:
    input:
        model=rules.model.output[0],
        train=rules.data.output.train,
        validation=rules.data.output.validation,
        test=rules.data.output.test,
        meta=rules.data.output.meta,
    output:
        out("results/data/{task}/context_{model}.json"),
    log:
        out("logs/context/{model}/{task}.log"),
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    params:
        task=task_spec,
        context_length=config["context_length"],
    script:
        "../scripts/check_context.py"
