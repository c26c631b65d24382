"""Rule stats: paired comparisons of base, SFT and DPO on the same test items."""

from sftdpo.io import atomic_path, read_jsonl
from sftdpo.metrics import metrics_of
from sftdpo.runtime import redirect_output
from sftdpo.stats import compare_methods
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
records = {method: read_jsonl(sm.input[method]) for method in sm.params.methods}
table = compare_methods(
    records,
    metrics_of(task.kind, records[sm.params.methods[0]], sm.params.evaluation),
    getattr(task, "labels", None),
    n_resamples=sm.params.n_resamples,
    seed=sm.params.bootstrap_seed,
)
with atomic_path(sm.output[0]) as tmp:
    table.to_csv(tmp, index=False)
print(table.to_string())
