# Named targets for part of the experiment: `snakemake --cores 8 <target>` runs exactly the jobs
# that target needs. Per stage: all_<stage>; per task: task_<task>; per model: model_<model>.
# A task's or model's outputs are the patterns expanded with its wildcard values, never picked
# from a list by reading paths (which the experiment: prefix moves).
STAGE_TARGETS = {
    "data": [expand(rules.data.output.meta, task=t)[0] for t in TASKS],
    "sft": outputs_of(SFT_ADAPTER, TRAINING_KEYS),
    "pairs": outputs_of(rules.pairs.output.pairs, TRAINING_KEYS),
    "dpo": outputs_of(DPO_ADAPTER, TRAINING_KEYS),
    "sft_matched": outputs_of(MATCHED_ADAPTER, TRAINING_KEYS) if CONTROL else [],
    "generations": outputs_of(rules.generate.output.generations, METRIC_KEYS),
    "metrics": outputs_of(rules.score.output.metrics, METRIC_KEYS),
    "stats": STATS_TABLES,
}

for stage_name, stage_outputs in STAGE_TARGETS.items():

    rule:
        name:
            f"all_{stage_name}"
        input:
            stage_outputs,


def task_figures(task):
    """The figures of one task (FIGURES holds every task's and the forest plot): per metric;
    per model and seed the training curves and, for a label task, the confusion matrices."""
    keys = [key for key in TRAINING_KEYS if key[1] == task]
    return (
        expand(METRIC_FIGURE, task=task, metric=TASK_METRICS[task])
        + outputs_of(TRAINING_FIGURE, keys)
        + (outputs_of(CONFUSION_FIGURE, keys) if TASK_KIND[task] == "label" else [])
    )


for target_task in TASKS:

    rule:
        name:
            f"task_{target_task}"
        input:
            expand(STATS_TABLE, model=MODELS, task=target_task),
            task_figures(target_task),


for target_model in MODELS:

    rule:
        name:
            f"model_{target_model}"
        input:
            expand(STATS_TABLE, model=target_model, task=TASKS),
