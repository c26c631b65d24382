rule summary:
    input:
        metrics=outputs_of(rules.score.output.metrics, METRIC_KEYS),
        stats=STATS_TABLES,
        meta=[expand(rules.data.output.meta, task=t)[0] for t in TASKS],
        # DPO's whole extra cost over SFT's, for the verdicts and recommendations.
        compute=rules.compute.output[0],
    output:
        markdown=out("results/summary/table.md"),
        csv=report(
            out("results/summary/table.csv"),
            caption="../report/table.rst",
            category="Summary",
        ),
        by_seed=out("results/summary/metrics_by_seed.csv"),
        verdicts=out("results/summary/verdicts.csv"),
        recommendations=out("results/summary/recommendations.md"),
        # The report shows HTML (the others it offers for download): the verdicts, the
        # recommendations, the table and the costs on one page.
        html=report(
            out("results/summary/summary.html"),
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        out("logs/summary/summary.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        metric_keys=METRIC_KEYS,
        stats_keys=[(m, t) for m in MODELS for t in TASKS],
        tasks=TASKS,
        task_specs=canonical(config["tasks"]),
        task_metrics=canonical(STATS_METRICS),
        primary_metrics=canonical(PRIMARY_METRIC),
        margins=canonical(MARGIN),
        n_primary=N_PRIMARY,
        decision=canonical(config["decision"]),
        evaluation=canonical(config["evaluation"]),
        # Candidates per method (one where a stage is not tuned), to flag unequal budgets.
        budgets={stage: max(1, len(CANDIDATES[stage])) for stage in ("sft", "dpo")},
        tuned={stage: [name for name, _ in CANDIDATES[stage]] for stage in TUNED},
        forest=Path(FOREST_FIGURE).name,
    script:
        "../scripts/summarise.py"
