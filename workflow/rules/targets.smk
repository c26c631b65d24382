# Named targets for part of the experiment: `snakemake --cores 8 <target>` runs exactly the jobs
# that target needs. Per stage: all_<stage>; per task: task_<task>; per model: model_<model>.
STAGE_TARGETS = {
    "data": [expand(rules.data.output.meta, task=t)[0] for t in TASKS],
    "sft": outputs_of(SFT_ADAPTER, TRAINING_KEYS),
    "pairs": outputs_of(rules.pairs.output.pairs, TRAINING_KEYS),
    "dpo": outputs_of(DPO_ADAPTER, TRAINING_KEYS),
    "generations": outputs_of(rules.generate.output.generations, METRIC_KEYS),
    "metrics": outputs_of(rules.score.output.metrics, METRIC_KEYS),
    "stats": outputs_of(rules.stats.output[0], TRAINING_KEYS) + POOLED_STATS,
}

for stage_name, stage_outputs in STAGE_TARGETS.items():

    rule:
        name:
            f"all_{stage_name}"
        input:
            stage_outputs,


for target_task in TASKS:

    rule:
        name:
            f"task_{target_task}"
        input:
            outputs_of(rules.stats.output[0], [k for k in TRAINING_KEYS if k[1] == target_task]),
            [f for f in POOLED_STATS if f.split("/")[-2] == target_task],
            [f for f in FIGURES if f.startswith(out(f"results/figures/{target_task}/"))],


for target_model in MODELS:

    rule:
        name:
            f"model_{target_model}"
        input:
            outputs_of(rules.stats.output[0], [k for k in TRAINING_KEYS if k[0] == target_model]),
            [f for f in POOLED_STATS if f.split("/")[2] == target_model],
