rule data:
    input:
        data_inputs,
    output:
        train="results/data/{task}/train.jsonl",
        validation="results/data/{task}/validation.jsonl",
        test="results/data/{task}/test.jsonl",
        meta="results/data/{task}/meta.json",
    params:
        task=task_spec,
        split=config["split"],
        seed=config["seed"],
        # A user's data path is relative to where snakemake runs (the working directory).
        base_dir=".",
    log:
        "logs/data/{task}.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/build_data.py"
