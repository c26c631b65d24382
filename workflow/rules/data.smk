rule data:
    output:
        train="results/data/{task}/train.jsonl",
        validation="results/data/{task}/validation.jsonl",
        test="results/data/{task}/test.jsonl",
    params:
        task=lambda wildcards: config["tasks"][wildcards.task],
        split=config["split"],
        seed=config["seed"],
    log:
        "logs/data/{task}.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/build_data.py"
