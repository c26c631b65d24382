rule summary:
    input:
        metrics=outputs_of(rules.score.output.metrics, METRIC_KEYS),
        stats=outputs_of(rules.stats.output[0], TRAINING_KEYS),
        # Several seeds: the test of each comparison over all of them (else empty).
        pooled=POOLED_STATS,
        meta=[expand(rules.data.output.meta, task=t)[0] for t in TASKS],
        # DPO's cost over SFT's, for the recommendations.
        compute=rules.compute.output[0],
    output:
        markdown=out("results/summary/table.md"),
        csv=report(
            out("results/summary/table.csv"),
            caption="../report/table.rst",
            category="Summary",
        ),
        by_seed=out("results/summary/metrics_by_seed.csv"),
        recommendations=out("results/summary/recommendations.md"),
        # The report shows HTML (the others it offers for download): the table and the
        # recommendations on one page.
        html=report(
            out("results/summary/summary.html"),
            caption="../report/summary.rst",
            category="Summary",
        ),
    params:
        metric_keys=METRIC_KEYS,
        stats_keys=TRAINING_KEYS,
        pooled_keys=[(m, t) for m in MODELS for t in TASKS] if POOLED else [],
        tasks=TASKS,
        task_specs=config["tasks"],
        task_metrics=TASK_METRICS,
        evaluation=config["evaluation"],
        tuned={stage: [name for name, _ in CANDIDATES[stage]] for stage in TUNED},
    log:
        out("logs/summary/summary.log"),
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/summarise.py"
