"""Rule stats_pooled: one test of each comparison of base, SFT and DPO over all training
seeds (sftdpo.stats.compare_pooled)."""

from sftdpo.io import atomic_path, read_jsonl
from sftdpo.metrics import metrics_of
from sftdpo.runtime import redirect_output
from sftdpo.stats import compare_pooled
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
runs = {(seed, method): read_jsonl(path)
        for (seed, method), path in zip(sm.params.runs, sm.input.predictions, strict=True)}
# The base model is generated once (in the first seed's folder) and compared in every seed.
base = next(records for (_, method), records in runs.items() if method == "base")
records_by_seed = {seed: {method: base if method == "base" else runs[(seed, method)]
                          for method in sm.params.methods}
                   for seed in sm.params.seeds}
table = compare_pooled(
    records_by_seed,
    metrics_of(task.kind, base, sm.params.evaluation),
    getattr(task, "labels", None),
    n_resamples=sm.params.n_resamples,
    seed=sm.params.bootstrap_seed,
)
with atomic_path(sm.output[0]) as tmp:
    table.to_csv(tmp, index=False)
print(table.to_string())
