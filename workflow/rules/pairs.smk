rule pairs:
    input:
        model=rules.model.output[0],
        sft=rules.sft.output[0],
        train=rules.data.output.train,
        meta=rules.data.output.meta,
    output:
        "results/pairs/{model}/{task}.jsonl",
    params:
        spec=model_spec,
        task=task_spec,
        sft_max_length=config["sft"]["max_length"],
        batch_size=config["generation"]["batch_size"],
        seed=config["seed"],
    threads: 8
    log:
        "logs/pairs/{model}/{task}.log",
    conda:
        "../../envs/sftdpo.yaml"
    benchmark:
        "benchmarks/pairs/{model}/{task}.tsv"
    script:
        "../scripts/build_pairs.py"
