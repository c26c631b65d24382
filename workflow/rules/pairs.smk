rule pairs:
    input:
        model=rules.model.output[0],
        sft=rules.sft.output[0],
        train=rules.data.output.train,
    output:
        "results/pairs/{model}/{task}.jsonl",
    params:
        spec=model_spec,
        strategy=config["pairs"]["strategy"],
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
