rule score:
    input:
        test=rules.data.output.test,
        generations=rules.generate.output.generations,
        meta=rules.data.output.meta,
    output:
        predictions="results/predictions/{model}/{task}/{method}.jsonl",
        metrics="results/metrics/{model}/{task}/{method}.json",
    params:
        task=task_spec,
        n_resamples=config["statistics"]["n_resamples"],
        seed=config["seed"],
    log:
        "logs/score/{model}/{task}/{method}.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/score.py"
