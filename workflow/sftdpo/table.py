"""The paper-style table: rows task x metric, columns base / SFT / DPO per model, P DPO vs SFT."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import METHODS

PERCENT_METRICS = {"accuracy", "parse_failure_rate", "likelihood_accuracy"}
P_COLUMN = "P dpo vs sft"


def format_value(metric: str, value: float) -> str:
    """As the paper prints them: accuracy in percent, F1 and grades with two decimals."""
    if pd.isna(value):
        return "n/a"
    return f"{100 * value:.0f}%" if metric in PERCENT_METRICS else f"{value:.2f}"


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


def seed_values(metrics: Mapping[tuple[str, str, int, str], Mapping], model: str, task: str,
                method: str, metric: str) -> list[float]:
    """``metric`` of one model, task and method in every seed that ran it, in seed order."""
    return [values[metric] for (m, t, seed, x), values in sorted(metrics.items())
            if (m, t, x) == (model, task, method)]


def summary_table(metrics: Mapping[tuple[str, str, int, str], Mapping],
                  stats: Mapping[tuple[str, str, int], pd.DataFrame],
                  tasks: Mapping[str, tuple[str, tuple[str, ...]]]) -> pd.DataFrame:
    """The table's numbers; ``metrics`` by (model, task, seed, method), ``stats`` by (model,
    task, seed), ``tasks`` maps each task, in table order, to its family and its metrics.

    With one training seed a cell is that seed's value and there is one P column per model.
    With several, a cell is the mean over seeds, an ``sd`` column beside it holds the standard
    deviation (n - 1; none for base, which trains nothing and runs once), and there is a P
    column per seed: each seed's comparison is tested on its own, none is pooled.
    """
    models = sorted({model for model, _, _, _ in metrics})
    seeds = sorted({seed for _, _, seed in stats})
    rows = []
    for task, (family, report_metrics) in tasks.items():
        for metric in report_metrics:
            row = {"task": task, "family": family, "metric": metric}
            for model in models:
                for method in METHODS:
                    values = seed_values(metrics, model, task, method, metric)
                    row[f"{model} {method}"] = float(np.mean(values))
                    if len(seeds) > 1:
                        row[f"{model} {method} sd"] = (float(np.std(values, ddof=1))
                                                       if len(values) > 1 else np.nan)
                for seed in seeds:
                    comparisons = stats[(model, task, seed)].set_index(["comparison", "metric"])
                    column = f"{model} {P_COLUMN}" + (f" seed{seed}" if len(seeds) > 1 else "")
                    row[column] = comparisons.loc[("sft_vs_dpo", metric), "p_value"]
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


def display_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The table as printed, header and rows: a value per model and method ("0.47 ± 0.03"
    over several seeds), then the P of DPO vs SFT (one per seed, "/"-separated)."""
    first = f" {METHODS[0]}"
    models = [column.removesuffix(first) for column in table.columns if column.endswith(first)]
    several_seeds = any(column.endswith(" sd") for column in table.columns)
    p_header = P_COLUMN + (" (per seed)" if several_seeds else "")
    header = ["task", "family", "metric"] + [
        f"{model} {name}" for model in models for name in (*METHODS, p_header)]
    rows = []
    for _, row in table.iterrows():
        cells = [row["task"], row["family"], row["metric"]]
        for model in models:
            for method in METHODS:
                cell = format_value(row["metric"], row[f"{model} {method}"])
                sd = row.get(f"{model} {method} sd", np.nan)
                cells.append(cell if pd.isna(sd) else
                             f"{cell} ± {format_value(row['metric'], sd)}")
            p_columns = [c for c in table.columns if c.startswith(f"{model} {P_COLUMN}")]
            cells.append(" / ".join(format_p(row[c]) for c in p_columns))
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


def to_markdown(table: pd.DataFrame, note: str = "") -> str:
    header, rows = display_cells(table)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n" + (f"\n{note}\n" if note else "")


def to_html(table: pd.DataFrame, recommendations_markdown: str, costs: pd.DataFrame,
            note: str = "") -> str:
    """One page for the Snakemake report, which shows HTML and images but only offers other
    files for download: the table, the recommendations, and DPO's cost over SFT's."""
    header, rows = display_cells(table)
    cost_columns = ["model", "task", "wall_seconds", "accelerator_seconds", "tokens"]
    cost_rows = [[str(row["model"]), str(row["task"])]
                 + [f"{row[c]:.2f}x" if not pd.isna(row[c]) else "n/a" for c in cost_columns[2:]]
                 for _, row in costs.iterrows()]
    bullets = [html.escape(line.removeprefix("- "))
               for line in recommendations_markdown.splitlines() if line.startswith("- ")]
    bullets = [re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", line) for line in bullets]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Does DPO pay?</title><style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; }}
th {{ background: #eee; }}
li {{ margin-bottom: 0.5em; max-width: 70em; }}
</style></head><body>
<h2>Base, SFT and DPO on the evaluated items</h2>
{_html_table(header, rows)}
<p>{html.escape(note)}</p>
<h2>Does DPO pay? Recommendations per task and model</h2>
<ul>{"".join(f"<li>{line}</li>" for line in bullets)}</ul>
<h2>DPO's training cost over SFT's (the paper: 2 to 3 times)</h2>
{_html_table(cost_columns, cost_rows)}
</body></html>
"""


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
                   for cells in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
