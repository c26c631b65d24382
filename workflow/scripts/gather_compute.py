"""Rule compute: every training and generation job's compute record in one table, with DPO's
whole extra cost (pairs + dpo) and the pipeline's cost over SFT's per model and task, and the
matched-compute control's over DPO's extra where it ran (results/summary/compute.csv;
sftdpo.compute says how). A tuning candidate's training and validation records (keys with a
``part``) make one row."""

from sftdpo.compute import compute_csv, compute_table, load_records
from sftdpo.io import atomic_path
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
table = compute_csv(compute_table(load_records(sm.input.records, sm.params.record_keys)))
with atomic_path(sm.output[0]) as tmp:
    table.to_csv(tmp, index=False)
print(table.to_string(index=False))
