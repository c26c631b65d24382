"""Rule score: per-item scores (the results contract's predictions) and per-method metrics."""

from sftdpo.io import read_jsonl, write_json, write_jsonl
from sftdpo.metrics import classification_metrics
from sftdpo.runtime import redirect_output
from sftdpo.scoring import score_generations
from sftdpo.tasks import get_task

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
task = get_task(sm.wildcards.task)
records = score_generations(task, read_jsonl(sm.input.test), read_jsonl(sm.input.generations))
write_jsonl(sm.output.predictions, records)
metrics = classification_metrics(records, task.labels, n_resamples=sm.params.n_resamples,
                                 seed=sm.params.seed)
write_json(sm.output.metrics, metrics)
print(metrics)
