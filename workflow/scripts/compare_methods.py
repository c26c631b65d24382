"""Rule stats: every comparison of the methods on the same test items over all training seeds,
with the primary hypothesis marked (sftdpo.stats)."""

from sftdpo.io import atomic_path, read_jsonl
from sftdpo.runtime import redirect_output
from sftdpo.stats import compare_methods
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
runs = {(seed, method): read_jsonl(path)
        for (seed, method), path in zip(sm.params.runs, sm.input.predictions, strict=True)}
# The base model is generated once (in the first seed's folder) and compared in every seed.
base = next(records for (_, method), records in runs.items() if method == "base")
records_by_seed = {seed: {"base": base} | {method: records
                                           for (s, method), records in runs.items()
                                           if s == seed and method != "base"}
                   for seed in sm.params.seeds}
table = compare_methods(
    records_by_seed,
    sm.params.metrics,
    getattr(task, "labels", None),
    primary=tuple(sm.params.primary),
    n_primary=sm.params.n_primary,
    alpha=sm.params.alpha,
    power=sm.params.power,
    n_resamples=sm.params.n_resamples,
    seed=sm.params.bootstrap_seed,
)
with atomic_path(sm.output[0]) as tmp:
    table.to_csv(tmp, index=False)
print(table.to_string())
