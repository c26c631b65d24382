"""Rule summary: the verdict per task and model (verdicts.csv), the paper-style table of every
model and task (CSV, Markdown and HTML, all from one long-format frame), and the
recommendations."""

import pandas as pd

from sftdpo.compute import JOB_STAGES, dpo_costs
from sftdpo.data import grading_note
from sftdpo.decision import decide, decisions_table, rule_text
from sftdpo.io import atomic_path, read_json, write_text
from sftdpo.recommend import recommendations_html, recommendations_markdown
from sftdpo.runtime import redirect_output
from sftdpo.selection import budget_note, tuning_note
from sftdpo.table import (
    evaluation_note,
    long_table,
    p_note,
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
stats = {tuple(key): pd.read_csv(path) for key, path in zip(sm.params.stats_keys, sm.input.stats,
                                                            strict=True)}
tasks, gradings = {}, {}
for name, meta in zip(sm.params.tasks, sm.input.meta, strict=True):
    if "grading" in (recorded := read_json(meta)):
        gradings[name] = recorded["grading"]
    task = load_task_with_meta(name, sm.params.task_specs[name], meta)
    tasks[name] = (task.family, tuple(sm.params.task_metrics[name]),
                   sm.params.primary_metrics[name])
decision = sm.params.decision

# DPO's whole extra cost over SFT's per model and task (sftdpo.compute.dpo_costs).
compute = pd.read_csv(sm.input.compute)
costs = dpo_costs(compute[compute["stage"].isin(JOB_STAGES)])
cost_of = {(row["model"], row["task"]): row for _, row in costs.iterrows()}

decisions = [decide(model, task, stats[(model, task)], sm.params.margins[task],
                    sm.params.n_primary, cost_of.get((model, task)))
             for model, task in stats]
verdicts = decisions_table(decisions)
with atomic_path(sm.output.verdicts) as tmp:
    verdicts.to_csv(tmp, index=False)
print(verdicts.to_string())

frame = long_table(metrics, stats, tasks)
with atomic_path(sm.output.csv) as tmp:
    wide_table(frame).to_csv(tmp, index=False)
with atomic_path(sm.output.by_seed) as tmp:
    per_seed_table(metrics, tasks).to_csv(tmp, index=False)
note = " ".join(filter(None, [
    evaluation_note(sm.params.evaluation["mode"], sm.params.evaluation["split"]),
    grading_note(gradings), tuning_note(sm.params.tuned),
    p_note(sm.params.n_primary, decision["alpha"])]))
write_text(sm.output.markdown, to_markdown(frame, note))
print(to_markdown(frame, note))

rule = rule_text(decision["matched_control"], sm.params.n_primary, decision["alpha"],
                 decision["power"])
notes = [text for text in [budget_note(sm.params.budgets)] if text]
entries = [{"decision": d, "stats": stats[(d.model, d.task)], "cost": d.cost}
           for d in decisions]
recommendations = recommendations_markdown(entries, rule, notes, figure=sm.params.forest)
write_text(sm.output.recommendations, recommendations)
write_text(sm.output.html, to_html(frame, verdicts, recommendations_html(entries, rule, notes),
                                   costs, note))
print(recommendations)
