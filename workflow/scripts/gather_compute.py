"""Rule compute: every training and generation job's compute record in one table, with DPO's
cost over SFT's per model and task (results/summary/compute.csv; sftdpo.compute says how)."""

from sftdpo.compute import compute_csv, compute_table, load_record
from sftdpo.io import atomic_path
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
records = [load_record(path, key)
           for path, key in zip(sm.input.records, sm.params.record_keys, strict=True)]
table = compute_csv(compute_table(records))
with atomic_path(sm.output[0]) as tmp:
    table.to_csv(tmp, index=False)
print(table.to_string(index=False))
