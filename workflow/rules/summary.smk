rule summary:
    input:
        metrics=[
            expand(rules.score.output.metrics, model=m, task=t, seed=s, method=x)[0]
            for m, t, s, x in METRIC_KEYS
        ],
        stats=[expand(rules.stats.output[0], model=m, task=t, seed=s)[0] for m, t, s in TRAINING_KEYS],
        meta=[expand(rules.data.output.meta, task=t)[0] for t in TASKS],
        # DPO's cost over SFT's, for the recommendations.
        compute=rules.compute.output[0],
    output:
        markdown=report(
            "results/summary/table.md",
            caption="../report/table.rst",
            category="Summary",
        ),
        csv="results/summary/table.csv",
        by_seed="results/summary/metrics_by_seed.csv",
        recommendations=report(
            "results/summary/recommendations.md",
            caption="../report/recommendations.rst",
            category="Summary",
        ),
    params:
        metric_keys=METRIC_KEYS,
        stats_keys=TRAINING_KEYS,
        tasks=TASKS,
        task_specs=config["tasks"],
    log:
        "logs/summary/summary.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/summarise.py"
