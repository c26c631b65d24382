"""The paper-style table: rows task x metric, columns base / SFT / DPO per model, P DPO vs SFT."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import METHODS

PERCENT_METRICS = {"accuracy", "parse_failure_rate"}
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


def to_markdown(table: pd.DataFrame) -> str:
    """The paper's layout: a value per model and method ("0.47 ± 0.03" over several seeds),
    then the P of DPO vs SFT (one per seed, "/"-separated, over several seeds)."""
    first = f" {METHODS[0]}"
    models = [column.removesuffix(first) for column in table.columns if column.endswith(first)]
    several_seeds = any(column.endswith(" sd") for column in table.columns)
    p_header = P_COLUMN + (" (per seed)" if several_seeds else "")
    header = ["task", "family", "metric"] + [
        f"{model} {name}" for model in models for name in (*METHODS, p_header)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
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
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
