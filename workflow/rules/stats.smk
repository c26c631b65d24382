# One seed's SFT and DPO predictions with the base model's, on the same test items.
SEED_PREDICTIONS = {
    method: expand(
        rules.score.output.predictions,
        method=method,
        seed=BASE_SEED if method == "base" else "{seed}",
        allow_missing=True,
    )[0]
    for method in METHODS
}


rule stats:
    input:
        **SEED_PREDICTIONS,
        meta=rules.data.output.meta,
    output:
        OUT + "results/stats/{model}/{task}/seed{seed}.csv",
    params:
        task=task_spec,
        methods=METHODS,
        evaluation=config["evaluation"]["mode"],
        n_resamples=config["statistics"]["n_resamples"],
        seed=config["seed"],
    log:
        OUT + "logs/stats/{model}/{task}/seed{seed}.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/compare_methods.py"
