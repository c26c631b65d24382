"""Rule stats: paired comparisons of base, SFT and DPO on the same test items."""

from sftdpo.io import atomic_path, read_jsonl
from sftdpo.runtime import redirect_output
from sftdpo.stats import compare_methods
from sftdpo.tasks import get_task

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
table = compare_methods(
    {method: read_jsonl(path) for method, path in sm.input.items()},
    get_task(sm.wildcards.task).labels,
    n_resamples=sm.params.n_resamples,
    seed=sm.params.seed,
)
with atomic_path(sm.output[0]) as tmp:
    table.to_csv(tmp, index=False)
print(table.to_string())
