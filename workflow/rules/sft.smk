rule sft:
    input:
        model=rules.model.output[0],
        train=rules.data.output.train,
        validation=rules.data.output.validation,
        meta=rules.data.output.meta,
    output:
        directory("results/adapters/{model}/{task}/sft"),
    params:
        spec=model_spec,
        task=task_spec,
        settings=training_settings("sft"),
        seed=config["seed"],
    threads: 8
    log:
        "logs/sft/{model}/{task}.log",
    conda:
        "../../envs/sftdpo.yaml"
    benchmark:
        "benchmarks/sft/{model}/{task}.tsv"
    script:
        "../scripts/train_sft.py"
