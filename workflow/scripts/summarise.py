"""Rule summary: the paper-style table of every model and task (CSV, Markdown and HTML, all
from one long-format frame), and the recommendation per task and model."""

import pandas as pd

from sftdpo.data import grading_note
from sftdpo.io import atomic_path, read_json, write_text
from sftdpo.recommend import recommendations_html, recommendations_markdown
from sftdpo.runtime import redirect_output
from sftdpo.selection import tuning_note
from sftdpo.table import (
    evaluation_note,
    long_table,
    per_seed_table,
    to_html,
    to_markdown,
    wide_table,
)
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
metrics = {key: read_json(path) for key, path in zip(sm.params.metric_keys, sm.input.metrics,
                                                     strict=True)}
stats = {key: pd.read_csv(path) for key, path in zip(sm.params.stats_keys, sm.input.stats,
                                                     strict=True)}
# The test over all seeds, per model and task (several seeds only).
pooled = ({key: pd.read_csv(path) for key, path in zip(sm.params.pooled_keys, sm.input.pooled,
                                                       strict=True)}
          if sm.params.pooled_keys else None)
tasks, gradings = {}, {}
for name, meta in zip(sm.params.tasks, sm.input.meta, strict=True):
    if "grading" in (recorded := read_json(meta)):
        gradings[name] = recorded["grading"]
    task = load_task_with_meta(name, sm.params.task_specs[name], meta)
    # The judge's grade joins the table where a judge graded the task.
    judged = any("judge_likert" in m for (_, t, _, _), m in metrics.items() if t == name)
    tasks[name] = (task.family,
                   tuple(sm.params.task_metrics[name]) + (("judge_likert",) if judged else ()))
frame = long_table(metrics, stats, tasks, pooled)
with atomic_path(sm.output.csv) as tmp:
    wide_table(frame).to_csv(tmp, index=False)
with atomic_path(sm.output.by_seed) as tmp:
    per_seed_table(metrics, tasks).to_csv(tmp, index=False)
note = " ".join(filter(None, [
    evaluation_note(sm.params.evaluation["mode"], sm.params.evaluation["split"]),
    grading_note(gradings), tuning_note(sm.params.tuned)]))
write_text(sm.output.markdown, to_markdown(frame, note))
print(to_markdown(frame, note))


# DPO's training cost over SFT's per model and task (the compute table's dpo_over_sft rows).
costs = pd.read_csv(sm.input.compute).query("stage == 'dpo_over_sft'").set_index(["model", "task"])
entries = [
    {"task": task, "model": model, "metric": tasks[task][1][0],
     "stats_by_seed": {s: stats[(m, t, s)] for m, t, s in stats if (m, t) == (model, task)},
     "pooled": None if pooled is None else pooled[(model, task)],
     "cost": costs.loc[(model, task)]}
    for model, task in dict.fromkeys(key[:2] for key in sm.params.stats_keys)
]
recommendations = recommendations_markdown(entries)
write_text(sm.output.recommendations, recommendations)
write_text(sm.output.html, to_html(frame, recommendations_html(entries), costs.reset_index(),
                                   note))
print(recommendations)
