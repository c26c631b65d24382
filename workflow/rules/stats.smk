# Every comparison of the methods over all training seeds, one table per model and task, with
# the primary hypothesis marked (sftdpo.stats).
rule stats:
    input:
        # Every generation of the model and task: base once, the others per seed (RUNS).
        predictions=expand(
            rules.score.output.predictions,
            zip,
            seed=[s for s, _ in RUNS],
            method=[x for _, x in RUNS],
            allow_missing=True,
        ),
        meta=rules.data.output.meta,
    output:
        STATS_TABLE,
    log:
        out("logs/stats/{model}/{task}.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        task=task_spec,
        runs=RUNS,
        seeds=SEEDS,
        metrics=lambda wildcards: STATS_METRICS[wildcards.task],
        primary=lambda wildcards: [
            comparison_name(*primary_comparison(CONTROL)),
            PRIMARY_METRIC[wildcards.task],
        ],
        n_primary=N_PRIMARY,
        alpha=config["decision"]["alpha"],
        power=config["decision"]["power"],
        n_resamples=config["statistics"]["n_resamples"],
        bootstrap_seed=BOOTSTRAP_SEED,
    script:
        "../scripts/compare_methods.py"
