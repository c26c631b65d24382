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
        POOLED_STATS_TABLE,
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
