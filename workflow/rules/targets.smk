# Named targets for part of the experiment: `snakemake --cores 8 <target>` runs exactly the jobs
# that target needs. Per stage: all_<stage>; per task: task_<task>; per model: model_<model>.
def outputs_of(rule_output, keys, names):
    return [expand(rule_output, **dict(zip(names, key)))[0] for key in keys]


STAGE_TARGETS = {
    "data": outputs_of(rules.data.output.meta, [(t,) for t in TASKS], ["task"]),
    "sft": outputs_of(rules.sft.output[0], TRAINING_KEYS, ["model", "task", "seed"]),
    "pairs": outputs_of(rules.pairs.output.pairs, TRAINING_KEYS, ["model", "task", "seed"]),
    "dpo": outputs_of(rules.dpo.output[0], TRAINING_KEYS, ["model", "task", "seed"]),
    "generations": outputs_of(
        rules.generate.output.generations, METRIC_KEYS, ["model", "task", "seed", "method"]
    ),
    "metrics": outputs_of(
        rules.score.output.metrics, METRIC_KEYS, ["model", "task", "seed", "method"]
    ),
    "stats": outputs_of(rules.stats.output[0], TRAINING_KEYS, ["model", "task", "seed"]),
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
            outputs_of(
                rules.stats.output[0],
                [key for key in TRAINING_KEYS if key[1] == target_task],
                ["model", "task", "seed"],
            ),
            [f for f in FIGURES if f.startswith(f"results/figures/{target_task}/")],


for target_model in MODELS:

    rule:
        name:
            f"model_{target_model}"
        input:
            outputs_of(
                rules.stats.output[0],
                [key for key in TRAINING_KEYS if key[0] == target_model],
                ["model", "task", "seed"],
            ),
