"""The paper-style table: rows task x metric, columns base / SFT / matched control / DPO per
model, and the P values of DPO against the control and against SFT.

The table's facts are one long-format frame (:func:`long_table`, columns ``LONG_COLUMNS``):
a row per task, metric, model, method and seed with ``statistic`` "value" (the metric's
value), and per comparison of ``TABLE_COMPARISONS`` a row with ``statistic`` "p" (no seed: one
test over every seed). ``role`` is "primary" on the rows of a task's primary metric. Markdown,
CSV and HTML are renderings of that frame: :func:`wide_table` (the CSV: one row per task and
metric, numbers), :func:`display_cells` (the printed cells), :func:`to_markdown`,
:func:`to_html`.

The P printed is the stats table's (sftdpo.stats): on the primary row, DPO against its
primary comparator with the P adjusted over the experiment's primary hypotheses, the one the
verdict reads; every other P is secondary and not adjusted (:func:`p_note` says so under
the table, as the figures and the recommendations do).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import METHODS

PERCENT_METRICS = {"accuracy", "parse_failure_rate", "likelihood_accuracy"}
LONG_COLUMNS = ("task", "family", "metric", "role", "model", "method", "seed", "statistic",
                "value")
# The comparisons whose P the table prints, DPO's against each comparator.
TABLE_COMPARISONS = ("sft_matched_vs_dpo", "sft_vs_dpo")
PRIMARY_MARK = "*"


def p_column(model: str, comparison: str) -> str:
    """"m P dpo vs sft_matched": the CSV column of a model's P of a comparison."""
    a, b = comparison.split("_vs_")
    return f"{model} P {b} vs {a}"


def p_note(n_primary: int, alpha: float) -> str:
    """What the table's P values are, in two sentences."""
    return (f"{PRIMARY_MARK} The primary metric: its P of DPO against the primary comparator "
            f"(the matched-compute control where it ran, else SFT) is Bonferroni-adjusted over "
            f"the experiment's {n_primary} primary hypotheses, and the verdict reads its "
            f"{1 - alpha / n_primary:.1%} interval (results/summary/verdicts.csv). Every other "
            "P is secondary, not adjusted: the sign-flip permutation test over the test items "
            "(or their groups), all seeds at once; each P's interval is in results/stats/.")


def format_value(metric: str, value: float) -> str:
    """As the paper prints them: accuracy in percent, F1 and grades with two decimals."""
    if pd.isna(value):
        return "n/a"
    if metric in PERCENT_METRICS:
        return f"{100 * value + 0.0:.0f}%".replace("-0%", "0%")
    return f"{value:.2f}".replace("-0.00", "0.00")


def p_phrase(p: float, name: str = "P") -> str:
    """"P = .003", "P <.001", "P(adj.) >.99"."""
    text = format_p(p)
    return f"{name} {text}" if text[0] in "<>" else f"{name} = {text}"


def format_p(p: float) -> str:
    """APA style, as the paper: <.001, .003, .55, >.99, no leading zero; three decimals
    below .1 so that a value near .05 is not rounded across it."""
    if pd.isna(p):
        return "n/a"
    if p < 0.001:
        return "<.001"
    if p > 0.99:
        return ">.99"
    return f"{p:.3f}".lstrip("0") if p < 0.1 else f"{p:.2f}".lstrip("0")


def _seed_values(metrics: Mapping[tuple[str, str, int, str], Mapping], model: str, task: str,
                 method: str, metric: str) -> list[tuple[int, float]]:
    """(seed, ``metric``) of one model, task and method in every seed that ran it."""
    return [(seed, values[metric]) for (m, t, seed, x), values in sorted(metrics.items())
            if (m, t, x) == (model, task, method)]


def _p_of(stats: pd.DataFrame, comparison: str, metric: str) -> float | None:
    """The P the table prints: the adjusted one on a primary row, else the plain one."""
    rows = stats[(stats["comparison"] == comparison) & (stats["metric"] == metric)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return float(row["p_adjusted"] if row["role"] == "primary" else row["p_value"])


def long_table(metrics: Mapping[tuple[str, str, int, str], Mapping],
               stats: Mapping[tuple[str, str], pd.DataFrame],
               tasks: Mapping[str, tuple[str, tuple[str, ...], str]]) -> pd.DataFrame:
    """The table's facts, long format (module docstring). ``metrics`` by (model, task, seed,
    method), ``stats`` by (model, task); ``tasks`` maps each task, in table order, to its
    family, its metrics and its primary metric."""
    models = sorted({model for model, _, _, _ in metrics})
    rows = []
    for task, (family, report_metrics, primary) in tasks.items():
        for metric in report_metrics:
            key = {"task": task, "family": family, "metric": metric,
                   "role": "primary" if metric == primary else "secondary"}
            for model in models:
                for method in METHODS:
                    rows += [{**key, "model": model, "method": method, "seed": seed,
                              "statistic": "value", "value": float(value)}
                             for seed, value in _seed_values(metrics, model, task, method,
                                                             metric)]
                for comparison in TABLE_COMPARISONS:
                    p = _p_of(stats[(model, task)], comparison, metric)
                    if p is not None:
                        rows.append({**key, "model": model, "method": comparison, "seed": None,
                                     "statistic": "p", "value": p})
    frame = pd.DataFrame(rows, columns=list(LONG_COLUMNS))
    return frame.astype({"seed": "Int64"})


def _several_seeds(frame: pd.DataFrame) -> bool:
    return frame.loc[frame["statistic"] == "value", "seed"].nunique() > 1


def _models(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["model"].unique())


def _methods(frame: pd.DataFrame) -> list[str]:
    present = set(frame.loc[frame["statistic"] == "value", "method"])
    return [method for method in METHODS if method in present]


def _comparisons(frame: pd.DataFrame) -> list[str]:
    present = set(frame.loc[frame["statistic"] == "p", "method"])
    return [comparison for comparison in TABLE_COMPARISONS if comparison in present]


def wide_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The CSV rendering: one row per task and metric (frame order), per model a column per
    method (the value, or over several seeds the mean and a ``sd`` column, n - 1; none for
    base, which trains nothing and runs once), then its P columns (:func:`p_column`)."""
    models, methods, comparisons = _models(frame), _methods(frame), _comparisons(frame)
    several = _several_seeds(frame)
    rows = []
    for (task, family, metric, role), group in frame.groupby(
            ["task", "family", "metric", "role"], sort=False):
        row = {"task": task, "family": family, "metric": metric, "role": role}
        for model in models:
            cells = group[group["model"] == model]
            for method in methods:
                values = cells.loc[(cells["method"] == method)
                                   & (cells["statistic"] == "value"), "value"]
                row[f"{model} {method}"] = float(values.mean()) if len(values) else np.nan
                if several:
                    row[f"{model} {method} sd"] = (float(values.std(ddof=1)) if len(values) > 1
                                                   else np.nan)
            for comparison in comparisons:
                p = cells.loc[(cells["method"] == comparison) & (cells["statistic"] == "p"),
                              "value"]
                row[p_column(model, comparison)] = float(p.iloc[0]) if len(p) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def per_seed_table(metrics: Mapping[tuple[str, str, int, str], Mapping],
                   tasks: Mapping[str, tuple[str, tuple[str, ...]]]) -> pd.DataFrame:
    """Every seed's value of every reported metric with its CI: what the means are made of."""
    rows = []
    for (model, task, seed, method), values in sorted(metrics.items()):
        for metric in tasks[task][1]:
            low, high = values.get(f"{metric}_ci", (np.nan, np.nan))
            rows.append({"model": model, "task": task, "seed": seed, "method": method,
                         "metric": metric, "value": values[metric], "ci_low": low,
                         "ci_high": high, "n": values["n"]})
    return pd.DataFrame(rows)


def display_cells(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The table as printed, header and rows: a value per model and method ("0.47 ± 0.03"
    over several seeds), then the P values; the primary metric is marked."""
    models, methods, comparisons = _models(frame), _methods(frame), _comparisons(frame)
    several = _several_seeds(frame)
    wide = wide_table(frame)
    header = ["task", "family", "metric"] + [
        name for model in models for name in (
            *(f"{model} {method}" for method in methods),
            *(p_column(model, comparison) for comparison in comparisons))]
    rows = []
    for _, row in wide.iterrows():
        mark = f" {PRIMARY_MARK}" if row["role"] == "primary" else ""
        cells = [row["task"], row["family"], row["metric"] + mark]
        for model in models:
            for method in methods:
                cell = format_value(row["metric"], row[f"{model} {method}"])
                sd = row[f"{model} {method} sd"] if several else np.nan
                cells.append(cell if pd.isna(sd) else
                             f"{cell} ± {format_value(row['metric'], sd)}")
            cells += [format_p(row[p_column(model, comparison)]) for comparison in comparisons]
        rows.append(cells)
    return header, rows


def evaluation_note(mode: str, split: str) -> str:
    """The sentence under the table that says how its answers were read, and on what items."""
    how = {
        "generate": "every metric parses the model's greedy answer (the paper's way)",
        "likelihood": "likelihood_* metrics take the label or option the model finds most "
                      "likely after the prompt; summaries are generated",
        "both": "metrics without a prefix parse the model's greedy answer (the paper's way); "
                "likelihood_* metrics take the label or option the model finds most likely "
                "after the prompt, on the same items",
    }[mode]
    return f"Evaluated on the {split} split: {how}."


def to_markdown(frame: pd.DataFrame, note: str = "") -> str:
    header, rows = display_cells(frame)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + (f"\n\n{note}\n" if note else "\n")


# The verdict table: (verdicts.csv column, header).
VERDICT_COLUMNS = (("task", "task"), ("model", "model"), ("metric", "primary metric"),
                   ("comparison", "DPO against"), ("diff", "difference"), ("ci", "CI"),
                   ("p_adjusted", "P (adjusted)"), ("margin", "margin"),
                   ("verdict", "verdict"), ("detectable", "detectable"),
                   ("items_needed", "items for the margin"))
COMPARATORS = {"sft_matched_vs_dpo": "matched control", "sft_vs_dpo": "SFT"}
# DPO's whole extra cost, as the report page shows it: (dpo_costs column, header).
COST_COLUMNS = (("extra_flops_ratio", "pairs + DPO over SFT, FLOPs"),
                ("extra_accelerator_ratio", "GPU seconds"), ("extra_cpu_ratio", "CPU seconds"),
                ("extra_wall_ratio", "wall seconds"),
                ("pipeline_flops_ratio", "SFT then DPO over SFT, FLOPs"),
                ("matched_flops_ratio", "matched control over pairs + DPO, FLOPs"),
                ("tuning_flops_ratio", "tuning over SFT, FLOPs"))
COST_NOTE = ("FLOPs are estimated from the model's parameters and the tokens each job ran: "
             "forward and backward passes through the decoder blocks and adapters, and the LM "
             "head on the positions whose scores are used (workflow/sftdpo/compute.py). The "
             "pairs job builds the preference pairs and scores both answers of each with the "
             "SFT model; with dpo.precompute_reference and dpo.reference_from_pairs (the "
             "defaults) DPO reads those scores as its reference, otherwise its own job runs the "
             "reference passes and counts them. CPU, GPU and wall seconds are measured. Tuning "
             "counts every candidate's training and its answers on the validation split.")


def verdict_cells(verdicts: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The verdict table as printed: one row per task and model."""
    rows = []
    for _, row in verdicts.iterrows():
        metric = row["metric"]
        cells = {"task": row["task"], "model": row["model"], "metric": metric,
                 "comparison": COMPARATORS.get(row["comparison"], row["comparison"]),
                 "diff": format_value(metric, row["diff"]),
                 "ci": (f"{format_value(metric, row['ci_low'])} to "
                        f"{format_value(metric, row['ci_high'])} ({row['ci_level']:.1%})"),
                 "p_adjusted": format_p(row["p_adjusted"]),
                 "margin": f"±{format_value(metric, row['margin'])}",
                 "verdict": row["verdict"],
                 "detectable": ("none: too few groups" if np.isinf(row["detectable"])
                                else format_value(metric, row["detectable"])),
                 "items_needed": _items_needed(row)}
        rows.append([cells[column] for column, _ in VERDICT_COLUMNS])
    return [name for _, name in VERDICT_COLUMNS], rows


def _items_needed(row: pd.Series) -> str:
    """Where inconclusive, the items the margin needs; with too few groups to reach the
    level at all, the groups needed first."""
    if row["verdict"] != "inconclusive":
        return ""
    if pd.isna(row["items_needed"]):
        return f"{row['units_to_reach_level']} groups, at least"
    return f"{int(row['items_needed']):,}"


def to_html(frame: pd.DataFrame, verdicts: pd.DataFrame, recommendations_html: str,
            costs: pd.DataFrame, note: str = "") -> str:
    """One page for the Snakemake report, which shows HTML and images but only offers other
    files for download: the verdicts, the recommendations (an HTML fragment,
    :func:`sftdpo.recommend.recommendations_html`), the table, and DPO's whole extra cost
    (``costs``: :func:`sftdpo.compute.dpo_costs`)."""
    header, rows = display_cells(frame)
    cost_header = ["model", "task"] + [name for _, name in COST_COLUMNS]
    cost_rows = [[str(row["model"]), str(row["task"])]
                 + [f"{row[c]:.2f}x" if not pd.isna(row[c]) else "n/a" for c, _ in COST_COLUMNS]
                 for _, row in costs.iterrows()]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Does DPO pay?</title><style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; }}
th {{ background: #eee; }}
li {{ margin-bottom: 0.5em; max-width: 70em; }}
p {{ max-width: 70em; }}
</style></head><body>
<h2>Does DPO pay? The verdict per task and model</h2>
{_html_table(*verdict_cells(verdicts))}
{recommendations_html}
<h2>Every method on the evaluated items</h2>
{_html_table(header, rows)}
<p>{html.escape(note)}</p>
<h2>DPO's whole extra cost (the paper: 2 to 3 times)</h2>
{_html_table(cost_header, cost_rows)}
<p>{html.escape(COST_NOTE)}</p>
</body></html>
"""


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
                   for cells in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
