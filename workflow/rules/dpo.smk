rule dpo:
    input:
        model=rules.model.output[0],
        sft=rules.sft.output[0],
        pairs=rules.pairs.output[0],
    output:
        directory("results/adapters/{model}/{task}/dpo"),
    params:
        spec=model_spec,
        settings=training_settings("dpo"),
        seed=config["seed"],
    threads: 8
    log:
        "logs/dpo/{model}/{task}.log",
    conda:
        "../../envs/sftdpo.yaml"
    benchmark:
        "benchmarks/dpo/{model}/{task}.tsv"
    script:
        "../scripts/train_dpo.py"
