"""Rule summary: the paper-style table of every model and task, as CSV and Markdown."""

import pandas as pd

from sftdpo.io import atomic_path, read_json, write_text
from sftdpo.runtime import redirect_output
from sftdpo.summary import summary_table, to_markdown
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
metrics = {key: read_json(path) for key, path in zip(sm.params.metric_keys, sm.input.metrics,
                                                     strict=True)}
stats = {key: pd.read_csv(path) for key, path in zip(sm.params.stats_keys, sm.input.stats,
                                                     strict=True)}
tasks = {}
for name, meta in zip(sm.params.tasks, sm.input.meta, strict=True):
    task = load_task_with_meta(name, sm.params.task_specs[name], meta)
    tasks[name] = (task.family, task.metrics)
table = summary_table(metrics, stats, tasks)
with atomic_path(sm.output.csv) as tmp:
    table.to_csv(tmp, index=False)
write_text(sm.output.markdown, to_markdown(table))
print(to_markdown(table))
