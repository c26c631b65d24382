rule stats:
    input:
        **{
            method: expand(rules.score.output.predictions, method=method, allow_missing=True)[0]
            for method in METHODS
        },
        meta=rules.data.output.meta,
    output:
        "results/stats/{model}/{task}.csv",
    params:
        task=task_spec,
        methods=METHODS,
        n_resamples=config["statistics"]["n_resamples"],
        seed=config["seed"],
    log:
        "logs/stats/{model}/{task}.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/compare_methods.py"
