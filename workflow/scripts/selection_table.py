"""Rule selection_table: every tuning candidate's settings, validation score, cost and whether
it was chosen (results/summary/selection.csv; sftdpo.selection.selection_table)."""

from sftdpo.io import atomic_path, read_json
from sftdpo.runtime import redirect_output
from sftdpo.selection import selection_table

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
table = selection_table([(key, read_json(path))
                         for key, path in zip(sm.params.selection_keys, sm.input, strict=True)],
                        sm.params.stages)
with atomic_path(sm.output[0]) as tmp:
    table.to_csv(tmp, index=False)
print(table.to_string(index=False))
