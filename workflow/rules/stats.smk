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
        out("results/stats/{model}/{task}/seed{seed}.csv"),
    params:
        task=task_spec,
        methods=METHODS,
        evaluation=config["evaluation"]["mode"],
        n_resamples=config["statistics"]["n_resamples"],
        bootstrap_seed=BOOTSTRAP_SEED,
    log:
        out("logs/stats/{model}/{task}/seed{seed}.log"),
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/compare_methods.py"


# With several training seeds: one test of each comparison over all seeds (POOLED).
rule stats_pooled:
    input:
        # Every generation of the model and task: base once, SFT and DPO per seed (RUNS).
        predictions=expand(
            rules.score.output.predictions,
            zip,
            seed=[s for s, _ in RUNS],
            method=[x for _, x in RUNS],
            allow_missing=True,
        ),
        meta=rules.data.output.meta,
    output:
        out("results/stats/{model}/{task}/pooled.csv"),
    params:
        task=task_spec,
        runs=RUNS,
        seeds=SEEDS,
        methods=METHODS,
        evaluation=config["evaluation"]["mode"],
        n_resamples=config["statistics"]["n_resamples"],
        bootstrap_seed=BOOTSTRAP_SEED,
    log:
        out("logs/stats/{model}/{task}/pooled.log"),
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/compare_pooled.py"


# The pooled stats of every model and task where there are several seeds, else none.
POOLED_STATS = (
    [expand(rules.stats_pooled.output[0], model=m, task=t)[0] for m in MODELS for t in TASKS]
    if POOLED
    else []
)
