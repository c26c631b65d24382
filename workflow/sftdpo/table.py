"""The paper-style table: rows task x metric, columns base / SFT / DPO per model, and the P of
DPO vs SFT.

The table's facts are one long-format frame (:func:`long_table`, columns ``LONG_COLUMNS``):
a row per task, metric, model, method and seed with ``statistic`` "value" (the metric's
value), and for the comparison ``sft_vs_dpo`` rows with ``statistic`` "p_holm" (its
Holm-adjusted P, per seed, and with several seeds one row of the test over all seeds, whose
``seed`` is empty). Markdown, CSV and HTML are renderings of that frame: :func:`wide_table`
(the CSV: one row per task and metric, numbers), :func:`display_cells` (the printed cells),
:func:`to_markdown`, :func:`to_html`.

The P printed everywhere (table, figures, recommendations) is the same: ``P(Holm)``, the
paired test's P Holm-adjusted over the three comparisons of a model, task and metric
(sftdpo.stats).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import METHODS

PERCENT_METRICS = {"accuracy", "parse_failure_rate", "likelihood_accuracy"}
LONG_COLUMNS = ("task", "family", "metric", "model", "method", "seed", "statistic", "value")
COMPARISON = "sft_vs_dpo"
P_NAME = "P(Holm)"
P_COLUMN = f"{P_NAME} dpo vs sft"
ALL_SEEDS = "all seeds"
P_NOTE = (f"{P_NAME}: the paired test of DPO vs SFT on the same items (exact McNemar for "
          "accuracy and failure rates, Wilcoxon signed-rank for grades, approximate "
          "randomisation for F1 and ROUGE-L), Holm-adjusted over the three comparisons (base vs "
          "SFT, SFT vs DPO, base vs DPO) of a model, task and metric.")
P_NOTE_SEEDS = (" With several seeds a cell is the mean ± SD over seeds; P per seed tests "
                f"each seed alone, P {ALL_SEEDS} is one test over every seed (McNemar "
                "stratified by seed, a Cochran-Mantel-Haenszel test, for accuracy and failure "
                "rates; a permutation that swaps an item's methods in every seed at once for F1, "
                "ROUGE-L and grades).")
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


def _seed_values(metrics: Mapping[tuple[str, str, int, str], Mapping], model: str, task: str,
                 method: str, metric: str) -> list[tuple[int, float]]:
    """(seed, ``metric``) of one model, task and method in every seed that ran it."""
    return [(seed, values[metric]) for (m, t, seed, x), values in sorted(metrics.items())
            if (m, t, x) == (model, task, method)]


def _p_holm(stats: pd.DataFrame, metric: str) -> float:
    return float(stats.set_index(["comparison", "metric"]).loc[(COMPARISON, metric),
                                                               "p_adjusted"])


def long_table(metrics: Mapping[tuple[str, str, int, str], Mapping],
               stats: Mapping[tuple[str, str, int], pd.DataFrame],
               tasks: Mapping[str, tuple[str, tuple[str, ...]]],
               pooled: Mapping[tuple[str, str], pd.DataFrame] | None = None) -> pd.DataFrame:
    """The table's facts, long format (module docstring). ``metrics`` by (model, task, seed,
    method), ``stats`` by (model, task, seed), ``pooled`` (needed with several seeds) by
    (model, task); ``tasks`` maps each task, in table order, to its family and its metrics."""
    models = sorted({model for model, _, _, _ in metrics})
    seeds = sorted({seed for _, _, seed in stats})
    if len(seeds) > 1 and pooled is None:
        raise ValueError(f"seeds {seeds}: several seeds need the pooled stats")
    rows = []
    for task, (family, report_metrics) in tasks.items():
        for metric in report_metrics:
            key = {"task": task, "family": family, "metric": metric}
            for model in models:
                for method in METHODS:
                    rows += [{**key, "model": model, "method": method, "seed": seed,
                              "statistic": "value", "value": float(value)}
                             for seed, value in _seed_values(metrics, model, task, method,
                                                             metric)]
                p_rows = {seed: stats[(model, task, seed)] for seed in seeds}
                if len(seeds) > 1:
                    p_rows[None] = pooled[(model, task)]
                rows += [{**key, "model": model, "method": COMPARISON, "seed": seed,
                          "statistic": "p_holm", "value": _p_holm(table, metric)}
                         for seed, table in p_rows.items()]
    frame = pd.DataFrame(rows, columns=list(LONG_COLUMNS))
    return frame.astype({"seed": "Int64"})


def _seeds(frame: pd.DataFrame) -> list[int]:
    """The training seeds of the frame (those of its P rows; the empty one is all seeds)."""
    return sorted(int(s) for s in frame.loc[frame["statistic"] == "p_holm", "seed"].dropna()
                  .unique())


def _models(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["model"].unique())


def _p_columns(model: str, seeds: list[int]) -> list[tuple[int | None, str]]:
    """(seed, CSV column) of a model's P values: one column with one seed; with several, one
    per seed and one of the test over all seeds (seed None)."""
    if len(seeds) == 1:
        return [(seeds[0], f"{model} {P_COLUMN}")]
    return [(seed, f"{model} {P_COLUMN} seed{seed}") for seed in seeds] + [
        (None, f"{model} {P_COLUMN} {ALL_SEEDS}")]


def wide_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The CSV rendering: one row per task and metric (frame order), per model a column per
    method (the value, or over several seeds the mean and a ``sd`` column, n - 1; none for
    base, which trains nothing and runs once), then its P column(s) (:func:`_p_columns`)."""
    models, seeds = _models(frame), _seeds(frame)
    several = len(seeds) > 1
    rows = []
    for (task, family, metric), group in frame.groupby(["task", "family", "metric"],
                                                       sort=False):
        row = {"task": task, "family": family, "metric": metric}
        for model in models:
            cells = group[group["model"] == model]
            for method in METHODS:
                values = cells.loc[(cells["method"] == method)
                                   & (cells["statistic"] == "value"), "value"]
                row[f"{model} {method}"] = float(values.mean()) if len(values) else np.nan
                if several:
                    row[f"{model} {method} sd"] = (float(values.std(ddof=1)) if len(values) > 1
                                                   else np.nan)
            p_values = cells[cells["statistic"] == "p_holm"]
            for seed, column in _p_columns(model, seeds):
                match = p_values["seed"].isna() if seed is None else p_values["seed"] == seed
                row[column] = float(p_values.loc[match, "value"].iloc[0]) if match.any() \
                    else np.nan
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
    over several seeds), then the P(Holm) of DPO vs SFT (several seeds: each seed's,
    "/"-separated, and the one over all seeds)."""
    models, seeds = _models(frame), _seeds(frame)
    several = len(seeds) > 1
    wide = wide_table(frame)
    p_headers = [f"{P_COLUMN} per seed", f"{P_COLUMN} {ALL_SEEDS}"] if several else [P_COLUMN]
    header = ["task", "family", "metric"] + [
        f"{model} {name}" for model in models for name in (*METHODS, *p_headers)]
    rows = []
    for _, row in wide.iterrows():
        cells = [row["task"], row["family"], row["metric"]]
        for model in models:
            for method in METHODS:
                cell = format_value(row["metric"], row[f"{model} {method}"])
                sd = row[f"{model} {method} sd"] if several else np.nan
                cells.append(cell if pd.isna(sd) else
                             f"{cell} ± {format_value(row['metric'], sd)}")
            p_columns = _p_columns(model, seeds)
            if several:
                cells.append(" / ".join(format_p(row[c]) for s, c in p_columns if s is not None))
            cells.append(format_p(row[p_columns[-1][1]]))
        rows.append(cells)
    return header, rows


def p_note(frame: pd.DataFrame) -> str:
    """What the table's P is, in a sentence (two with several seeds)."""
    return P_NOTE + (P_NOTE_SEEDS if len(_seeds(frame)) > 1 else "")


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
    notes = " ".join(text for text in (note, p_note(frame)) if text)
    return "\n".join(lines) + f"\n\n{notes}\n"


# DPO's cost over SFT's, as the report page shows it: (compute.csv column, header).
COST_COLUMNS = (("flops", "FLOPs (estimated)"), ("accelerator_seconds", "GPU seconds"),
                ("cpu_seconds", "CPU seconds"), ("wall_seconds", "wall seconds"),
                ("tokens", "tokens"))


def to_html(frame: pd.DataFrame, recommendations_html: str, costs: pd.DataFrame,
            note: str = "") -> str:
    """One page for the Snakemake report, which shows HTML and images but only offers other
    files for download: the table, the recommendations (an HTML fragment,
    :func:`sftdpo.recommend.recommendations_html`), and DPO's cost over SFT's (the
    ``dpo_over_sft`` rows of compute.csv)."""
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
<h2>Base, SFT and DPO on the evaluated items</h2>
{_html_table(header, rows)}
<p>{html.escape(" ".join(text for text in (note, p_note(frame)) if text))}</p>
<h2>Does DPO pay? Recommendations per task and model</h2>
{recommendations_html}
<h2>DPO's training cost over SFT's (the paper: 2 to 3 times)</h2>
{_html_table(cost_header, cost_rows)}
<p>FLOPs: estimated from the model's parameters, its trainable parameters and the tokens
trained on and scored, reference passes included (workflow/sftdpo/compute.py); CPU and GPU
seconds are measured.</p>
</body></html>
"""


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
                   for cells in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
