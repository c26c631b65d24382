"""Rule score: per-item scores (the results contract's predictions) and per-method metrics."""

from sftdpo.data import unit_of
from sftdpo.io import read_json, read_jsonl, write_json, write_jsonl
from sftdpo.metrics import method_metrics, metrics_of
from sftdpo.runtime import redirect_output
from sftdpo.scoring import score_generations
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
evaluated = read_jsonl(sm.input.evaluated)
records = score_generations(task, evaluated, read_jsonl(sm.input.generations))
# Each record's unit of inference (sftdpo.stats): its group where the split keeps groups apart.
unit = read_json(sm.input.meta).get("unit", "item")
units = {item["id"]: unit_of(task, item, unit) for item in evaluated}
for record in records:
    record["unit"] = units[record["id"]]
if sm.input.get("judge"):
    grades = {g["id"]: g for g in read_jsonl(sm.input.judge)}
    for record in records:
        record |= {key: grades[record["id"]][key] for key in ("judge_grade", "judge_output")}
write_jsonl(sm.output.predictions, records)
metrics = method_metrics(records, metrics_of(task.kind, records, sm.params.evaluation),
                         getattr(task, "labels", None), n_resamples=sm.params.n_resamples,
                         seed=sm.params.bootstrap_seed)
write_json(sm.output.metrics, metrics)
print(metrics)
