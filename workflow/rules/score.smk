rule score:
    input:
        evaluated=getattr(rules.data.output, EVALUATED_SPLIT),
        generations=rules.generate.output.generations,
        meta=rules.data.output.meta,
        # The judge's grades, where a judge is configured and the task is a summary task.
        judge=branch(
            lambda wildcards: JUDGE is not None and TASK_KIND[wildcards.task] == "summary",
            then=rules.judge.output.grades,
        ),
    output:
        predictions=PREDICTIONS,
        metrics=out("results/metrics/{model}/{task}/seed{seed}/{method}.json"),
    log:
        out("logs/score/{model}/{task}/seed{seed}/{method}.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        task=task_spec,
        evaluation=config["evaluation"]["mode"],
        n_resamples=config["statistics"]["n_resamples"],
        bootstrap_seed=BOOTSTRAP_SEED,
    script:
        "../scripts/score.py"
