# The report's figures: per task and metric, every method's bars for every model; per model
# and task, the training curves and (label tasks) the confusion matrices; per experiment the
# forest plot of every primary difference, the answer first.


rule figure_metric:
    input:
        metrics=lambda wildcards: [
            expand(rules.score.output.metrics, model=m, task=wildcards.task, seed=s, method=x)[0]
            for m in MODELS
            for s, x in RUNS
        ],
        # One stats table per model: every comparison over all seeds.
        stats=lambda wildcards: [
            expand(rules.stats.output[0], model=m, task=wildcards.task)[0] for m in MODELS
        ],
    output:
        png=report(
            METRIC_FIGURE,
            caption="../report/figure_metric.rst",
            category="Figures",
            subcategory="{task}",
        ),
        svg=out("results/figures/{task}/{metric}.svg"),
    log:
        out("logs/figures/{task}/{metric}.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        model_methods=[(m, x) for m in MODELS for _, x in RUNS],
        stats_models=MODELS,
    script:
        "../scripts/plot_metric.py"


rule figure_training:
    input:
        sft=SFT_ADAPTER,
        dpo=DPO_ADAPTER,
        matched=MATCHED_ADAPTER if CONTROL else [],
    output:
        png=report(
            TRAINING_FIGURE,
            caption="../report/figure_training.rst",
            category="Figures",
            subcategory="{task}",
        ),
        svg=out("results/figures/{task}/{model}_seed{seed}_training.svg"),
    log:
        out("logs/figures/{task}/{model}_seed{seed}_training.log"),
    conda:
        "../envs/sftdpo.yaml"
    script:
        "../scripts/plot_training.py"


rule figure_confusion:
    input:
        **SEED_PREDICTIONS,
        meta=rules.data.output.meta,
    output:
        png=report(
            CONFUSION_FIGURE,
            caption="../report/figure_confusion.rst",
            category="Figures",
            subcategory="{task}",
        ),
        svg=out("results/figures/{task}/{model}_seed{seed}_confusion.svg"),
    log:
        out("logs/figures/{task}/{model}_seed{seed}_confusion.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        task=task_spec,
        methods=RUN_METHODS,
    script:
        "../scripts/plot_confusion.py"


rule figure_forest:
    input:
        verdicts=rules.summary.output.verdicts,
    output:
        png=report(
            FOREST_FIGURE,
            caption="../report/figure_forest.rst",
            category="Summary",
        ),
        svg=FOREST_FIGURE.replace(".png", ".svg"),
        # The HTML report's first page (the Snakefile's report: directive, once it exists).
        landing=REPORT_LANDING,
    log:
        out("logs/figures/forest.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        decision=canonical(config["decision"]),
        n_primary=N_PRIMARY,
    script:
        "../scripts/plot_forest.py"
