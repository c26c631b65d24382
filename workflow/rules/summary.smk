MODEL_TASK_METHOD = [(m, t, x) for m in MODELS for t in TASKS for x in METHODS]
MODEL_TASK = [(m, t) for m in MODELS for t in TASKS]


rule summary:
    input:
        metrics=[
            expand(rules.score.output.metrics, model=m, task=t, method=x)[0]
            for m, t, x in MODEL_TASK_METHOD
        ],
        stats=[expand(rules.stats.output[0], model=m, task=t)[0] for m, t in MODEL_TASK],
        meta=[expand(rules.data.output.meta, task=t)[0] for t in TASKS],
        sft=[expand(rules.sft.output[0], model=m, task=t)[0] for m, t in MODEL_TASK],
        dpo=[expand(rules.dpo.output[0], model=m, task=t)[0] for m, t in MODEL_TASK],
    output:
        markdown=report(
            "results/summary/table.md",
            caption="../report/table.rst",
            category="Summary",
        ),
        csv="results/summary/table.csv",
        recommendations=report(
            "results/summary/recommendations.md",
            caption="../report/recommendations.rst",
            category="Summary",
        ),
    params:
        metric_keys=MODEL_TASK_METHOD,
        stats_keys=MODEL_TASK,
        tasks=TASKS,
        task_specs=config["tasks"],
    log:
        "logs/summary/summary.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/summarise.py"
