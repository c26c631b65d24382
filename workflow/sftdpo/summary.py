"""The paper-style table: rows task x metric, columns base / SFT / DPO per model, P DPO vs SFT."""

from __future__ import annotations

import pandas as pd

from . import METHODS

PERCENT_METRICS = {"accuracy", "parse_failure_rate"}


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


def summary_table(metrics: dict[tuple[str, str, str], dict],
                  stats: dict[tuple[str, str], pd.DataFrame],
                  tasks: dict[str, tuple[str, tuple[str, ...]]]) -> pd.DataFrame:
    """The table's numbers; ``metrics`` by (model, task, method), ``stats`` by (model, task),
    ``tasks`` maps each task, in table order, to its family and the metrics it reports."""
    models = sorted({model for model, _, _ in metrics})
    rows = []
    for task, (family, report_metrics) in tasks.items():
        for metric in report_metrics:
            row = {"task": task, "family": family, "metric": metric}
            for model in models:
                for method in METHODS:
                    row[f"{model} {method}"] = metrics[(model, task, method)][metric]
                comparisons = stats[(model, task)].set_index(["comparison", "metric"])
                row[f"{model} P dpo vs sft"] = comparisons.loc[("sft_vs_dpo", metric), "p_value"]
            rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    header = list(table.columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [row["task"], row["family"], row["metric"]]
        for column in header[3:]:
            value = row[column]
            cells.append(format_p(value) if column.endswith("P dpo vs sft")
                         else format_value(row["metric"], value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
