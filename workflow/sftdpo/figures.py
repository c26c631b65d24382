"""The report's figures, each written as ``<out_stem>.png`` and ``<out_stem>.svg``.

* :func:`plot_method_bars`: one task and metric, a group of bars per model (base, SFT, the
  matched control, DPO) with their 95% bootstrap CIs over the units as error bars, value
  labels, and over each group the P values of DPO against its comparators as the table prints
  them (:func:`comparison_brackets`: adjusted on the primary metric's primary comparison,
  secondary and unadjusted elsewhere).
  Accuracy and parse failure rate are shown in percent (0-100%), Likert grades on their 1-5
  scale (bars rise from 1), macro F1 and ROUGE-L on 0-1.
* :func:`plot_confusion_matrices`: a label task's confusion matrix for each method, rows the
  reference label, columns the parsed answer plus an ``unparsed`` column (answers the parser
  could not read). Counts come from ``sklearn.metrics.confusion_matrix``; they are returned.
* :func:`plot_training_curves`: SFT training loss by step with the validation loss where it
  was computed (after the last step, or each epoch), the matched control's loss continuing
  it where the control ran, and DPO loss with the reward margin
  (chosen minus rejected implicit reward, TRL's ``rewards/margins``) on a second axis.
  Missing keys or empty logs give an emptier panel, never an error.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas (no pyplot, no
GUI, nothing left open). Output is deterministic: fixed colours and sizes, no date in the
file metadata and a fixed SVG id salt. SVG text stays text (``svg.fonttype = "none"``), so
the numbers can be searched and copied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import confusion_matrix

from . import METHODS
from .metrics import UNPARSED, record_indices
from .table import PERCENT_METRICS, TABLE_COMPARISONS, format_value, p_phrase

FIGURE_FORMATS = ("png", "svg")
PNG_DPI = 150
UNPARSED_COLUMN = "unparsed"

METHOD_NAMES = {"base": "Base", "sft": "SFT", "sft_matched": "SFT, matched compute",
                "dpo": "DPO"}
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
METHOD_COLORS = {"base": "#999999", "sft": "#0072B2", "sft_matched": "#CC79A7",
                 "dpo": "#D55E00"}
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "macro_f1": "Macro F1",
    "parse_failure_rate": "Parse failure rate",
    "likert": "Likert grade",
    "rouge_l": "ROUGE-L",
    "likelihood_accuracy": "Accuracy (likelihood answers)",
    "likelihood_macro_f1": "Macro F1 (likelihood answers)",
}

_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "sftdpo-figures",
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextmanager
def _style():
    with mpl.rc_context(_STYLE):
        yield


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, out_stem: str | Path) -> list[Path]:
    """Write ``figure`` as ``<out_stem>.png`` and ``<out_stem>.svg``; the paths written."""
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FIGURE_FORMATS:
        path = out_stem.with_name(f"{out_stem.name}.{fmt}")
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(path, format=fmt, dpi=PNG_DPI, metadata=metadata)
        paths.append(path)
    return paths


def _method_order(methods) -> list[str]:
    """The workflow's methods first, in their order, then any others sorted."""
    methods = set(methods)
    return [m for m in METHODS if m in methods] + sorted(methods - set(METHODS))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# --------------------------------------------------------------------------- method bars


def metric_axis(metric: str) -> tuple[float, float, float, str]:
    """(scale, bottom, top, y label) of a metric: values are multiplied by ``scale`` and
    shown on an axis from ``bottom`` to ``top``."""
    name = METRIC_NAMES.get(metric, metric)
    if metric in PERCENT_METRICS:
        return 100.0, 0.0, 100.0, f"{name} (%)"
    if metric == "likert":
        return 1.0, 1.0, 5.0, f"{name} (1-5)"
    return 1.0, 0.0, 1.0, name


def over_seeds(per_seed: Sequence[Mapping], metric: str) -> dict:
    """One bar's entry from the metrics of each seed: the value itself for one seed (with its
    CI), the mean for several, with the seeds' values kept for the SD bar and dots."""
    if len(per_seed) == 1:
        return dict(per_seed[0])
    values = [entry[metric] for entry in per_seed]
    return {metric: float(np.mean(values)), f"{metric}_seeds": values, "n": per_seed[0]["n"]}


def comparison_brackets(stats, metric: str) -> list[tuple[str, str, str]]:
    """(method a, method b, text) of each comparison the table prints a P of, for ``metric``
    from a stats table (the columns of :mod:`sftdpo.stats`): the adjusted P on the primary
    row, the plain P elsewhere."""
    brackets = []
    for comparison in TABLE_COMPARISONS:
        rows = stats[(stats["comparison"] == comparison) & (stats["metric"] == metric)]
        if len(rows):
            row = rows.iloc[0]
            primary = row["role"] == "primary"
            p = row["p_adjusted"] if primary else row["p_value"]
            a, b = comparison.split("_vs_")
            brackets.append((a, b, p_phrase(float(p), "P(adj.)" if primary else "P")))
    return brackets


def plot_method_bars(
    metrics: Mapping[tuple[str, str], Mapping],
    metric: str,
    task: str,
    brackets: Mapping[str, Sequence[tuple[str, str, str]]],
    out_stem: str | Path,
) -> list[Path]:
    """Bars of ``metric`` on ``task`` for every method, one group per model.

    ``metrics`` maps (model, method) to that method's metrics (the metrics JSON: the value,
    ``<metric>_ci`` = [low, high] and ``n``; over several seeds the entry of
    :func:`over_seeds`: the mean and ``<metric>_seeds``, drawn as ±1 SD and a dot per seed);
    ``brackets`` maps a model to the (a, b, text) brackets drawn over its group, each
    between two of its bars (:func:`comparison_brackets`; a missing model: none). A (model,
    method) pair that is absent, or lacks the metric, gets no bar. Returns the paths
    written.
    """
    models = sorted({model for model, _ in metrics})
    methods = _method_order(method for _, method in metrics)
    if not models:
        raise ValueError(f"no metrics to plot for {task} {metric}")
    scale, bottom, top, ylabel = metric_axis(metric)
    span = top - bottom
    width = 0.8 / len(methods)

    with _style():
        figure = _new_figure(max(4.0, 1.4 + 1.5 * len(models)), 3.8)
        ax = figure.add_subplot()
        highest = top
        for g, model in enumerate(models):
            group_top = bottom
            x_of = {}
            for k, method in enumerate(methods):
                entry = metrics.get((model, method), {})
                value = entry.get(metric)
                if _missing(value):
                    continue
                x = g + (k - (len(methods) - 1) / 2) * width
                x_of[method] = x
                y = value * scale
                ci = entry.get(f"{metric}_ci")
                seeds = [v * scale for v in entry.get(f"{metric}_seeds", ())]
                upper = y
                yerr = None
                if seeds:
                    sd = float(np.std(seeds, ddof=1))
                    yerr = [[sd], [sd]]
                    upper = max(y + sd, *seeds)
                    ax.plot([x] * len(seeds), seeds, "o", color="#333333", markersize=2.5,
                            zorder=3)
                elif ci is not None and not any(_missing(c) for c in ci):
                    low, high = ci[0] * scale, ci[1] * scale
                    yerr = [[max(0.0, y - low)], [max(0.0, high - y)]]
                    upper = max(y, high)
                ax.bar(x, y - bottom, width * 0.92, bottom=bottom,
                       color=METHOD_COLORS.get(method, "#56B4E9"),
                       label=METHOD_NAMES.get(method, method) if g == 0 else None,
                       yerr=yerr, capsize=3, error_kw={"elinewidth": 1, "ecolor": "#333333"})
                ax.text(x, upper + 0.015 * span, format_value(metric, value), ha="center",
                        va="bottom", fontsize=7)
                group_top = max(group_top, upper + 0.08 * span)
            for a, b, text in brackets.get(model, ()):
                if a not in x_of or b not in x_of:
                    continue
                y = group_top + 0.02 * span
                tick = 0.025 * span
                ax.plot([x_of[a], x_of[a], x_of[b], x_of[b]],
                        [y - tick, y, y, y - tick], color="#333333", linewidth=0.8)
                ax.text((x_of[a] + x_of[b]) / 2, y + 0.01 * span, text,
                        ha="center", va="bottom", fontsize=8)
                group_top = y + 0.08 * span
            highest = max(highest, group_top)

        ax.set_ylim(bottom, max(top + 0.12 * span, highest + 0.02 * span))
        ax.set_yticks(np.linspace(bottom, top, 5 if metric == "likert" else 6))
        ax.set_xlim(-0.6, len(models) - 0.4)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels([_model_tick(model, methods, metrics) for model in models])
        ax.set_ylabel(ylabel)
        several = any(f"{metric}_seeds" in entry for entry in metrics.values())
        ax.set_title(f"{task}: {METRIC_NAMES.get(metric, metric)} by method\n" + (
            "mean over seeds, error bars: ±1 SD, dots: seeds" if several else
            "error bars: 95% bootstrap CI") + "; P: DPO against its comparators, one paired "
            "test over all seeds (adj.: the primary, adjusted)", fontsize=9)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        return save_figure(figure, out_stem)


def _model_tick(model: str, methods: Sequence[str], metrics: Mapping) -> str:
    counts = {metrics[(model, m)].get("n") for m in methods if (model, m) in metrics}
    counts.discard(None)
    return f"{model}\n(n = {counts.pop()})" if len(counts) == 1 else model


# --------------------------------------------------------------------- confusion matrices


def confusion_counts(records: Sequence[dict], labels: Sequence[str]) -> np.ndarray:
    """Counts of (reference, answer): shape (len(labels), len(labels) + 1), rows the
    reference label, columns the parsed label in ``labels`` order and then unparsed."""
    ref, pred = record_indices(records, labels)
    columns = [*range(len(labels)), UNPARSED]
    if len(ref) == 0:
        return np.zeros((len(labels), len(columns)), dtype=np.int64)
    matrix = confusion_matrix(ref, pred, labels=columns)
    return matrix[: len(labels)].astype(np.int64)  # no reference is ever unparsed


def plot_confusion_matrices(
    records_by_method: Mapping[str, Sequence[dict]],
    labels: Sequence[str],
    title: str,
    out_stem: str | Path,
) -> dict[str, np.ndarray]:
    """One confusion-matrix panel per method (base, SFT, DPO order), counts annotated.

    Records are the predictions' records (``reference``, ``parsed``; None = unparsed). All
    panels share one colour scale, so shades compare across methods. Returns the count
    matrices by method (see :func:`confusion_counts`).
    """
    methods = _method_order(records_by_method)
    if not methods:
        raise ValueError("no methods to plot")
    counts = {m: confusion_counts(records_by_method[m], labels) for m in methods}
    columns = [*labels, UNPARSED_COLUMN]
    vmax = max(1, max(int(c.max(initial=0)) for c in counts.values()))
    side = max(2.6, 0.45 * len(columns) + 1.2)

    with _style():
        figure = _new_figure(side * len(methods) + 1.0, side + 0.7)
        figure.get_layout_engine().set(wspace=0.06)
        axes = figure.subplots(1, len(methods), squeeze=False)[0]
        image = None
        for ax, method in zip(axes, methods, strict=True):
            matrix = counts[method]
            n = int(matrix.sum())
            image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax, aspect="equal")
            for (i, j), count in np.ndenumerate(matrix):
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                        color="white" if count > 0.6 * vmax else "black")
            ax.axvline(len(labels) - 0.5, color="black", linewidth=1.5)
            ax.tick_params(length=0)
            ax.set_xticks(range(len(columns)))
            ax.set_xticklabels(columns, rotation=45, ha="right", rotation_mode="anchor")
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels if ax is axes[0] else [])
            ax.set_xlabel("Predicted")
            if ax is axes[0]:
                ax.set_ylabel("Reference")
            correct = int(np.trace(matrix[:, : len(labels)]))
            summary = f"accuracy {100 * correct / n:.0f}%, n = {n}" if n else "no items"
            ax.set_title(f"{METHOD_NAMES.get(method, method)}\n{summary}")
            for spine in ax.spines.values():
                spine.set_visible(False)
        figure.colorbar(image, ax=list(axes), shrink=0.8, label="Items")
        figure.suptitle(title)
        save_figure(figure, out_stem)
    return counts


# ----------------------------------------------------------------------- training curves


def log_series(log: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the log entries holding ``key`` (a finite number), in log order.

    An entry without ``step`` counts by its position (1-based)."""
    steps, values = [], []
    for position, entry in enumerate(log, start=1):
        value = entry.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            steps.append(entry.get("step", position))
            values.append(float(value))
    return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)


def _epochs(log: Sequence[Mapping], key: str) -> list:
    return [entry.get("epoch") for entry in log
            if isinstance(entry.get(key), int | float) and math.isfinite(entry[key])]


def _empty_panel(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_training_curves(
    sft_log: Sequence[Mapping],
    dpo_log: Sequence[Mapping],
    title: str,
    out_stem: str | Path,
    matched_log: Sequence[Mapping] = (),
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """SFT loss (and validation loss, where computed) on the left, with the matched control's
    loss continuing it (its steps counted on from SFT's last); DPO loss and reward margin on
    the right, the margin on a second y axis. Logs are Trainer ``log_history`` lists.

    Returns the plotted series by name (``sft_loss``, ``sft_eval_loss``, ``matched_loss``,
    ``dpo_loss``, ``dpo_eval_loss``, ``dpo_margin``, ``dpo_eval_margin``), each (steps,
    values), empty arrays where the log has no such entries.
    """
    sft_steps = log_series(sft_log, "loss")[0]
    matched_steps, matched_values = log_series(matched_log, "loss")
    series = {
        "sft_loss": log_series(sft_log, "loss"),
        "matched_loss": (matched_steps + (sft_steps.max() if len(sft_steps) else 0.0),
                         matched_values),
        "sft_eval_loss": log_series(sft_log, "eval_loss"),
        "dpo_loss": log_series(dpo_log, "loss"),
        "dpo_eval_loss": log_series(dpo_log, "eval_loss"),
        "dpo_margin": log_series(dpo_log, "rewards/margins"),
        "dpo_eval_margin": log_series(dpo_log, "eval_rewards/margins"),
    }
    loss_color, eval_color = METHOD_COLORS["sft"], "#009E73"
    margin_color = METHOD_COLORS["dpo"]

    with _style():
        figure = _new_figure(9.0, 4.0)
        left, right = figure.subplots(1, 2)

        left.set_title("SFT" + (", then the matched control" if len(matched_steps) else ""))
        if len(series["sft_loss"][0]) or len(series["sft_eval_loss"][0]):
            _loss_lines(left, series["sft_loss"], series["sft_eval_loss"],
                        _epochs(sft_log, "eval_loss"), loss_color, eval_color)
            if len(matched_steps):
                left.plot(*series["matched_loss"], color=METHOD_COLORS["sft_matched"],
                          linewidth=1.2, label="loss (matched control, train)")
            _legend_below(left, None)
        else:
            _empty_panel(left, "no SFT log entries")

        right.set_title("DPO")
        has_loss = len(series["dpo_loss"][0]) or len(series["dpo_eval_loss"][0])
        has_margin = len(series["dpo_margin"][0]) or len(series["dpo_eval_margin"][0])
        if has_loss or has_margin:
            handles = _loss_lines(right, series["dpo_loss"], series["dpo_eval_loss"],
                                  _epochs(dpo_log, "eval_loss"), loss_color, eval_color)
            if has_loss:  # the sigmoid DPO loss at zero margin: no preference learnt yet
                handles.append(right.axhline(math.log(2), color="#666666", linewidth=0.8,
                                             linestyle="--", label="log 2 (margin 0)"))
            if has_margin:
                twin = right.twinx()
                twin.spines["right"].set_visible(True)
                handles += twin.plot(*series["dpo_margin"], color=margin_color,
                                     linewidth=1.2, label="reward margin (train)")
                if len(series["dpo_eval_margin"][0]):
                    handles += twin.plot(*series["dpo_eval_margin"], "s", color=margin_color,
                                         markersize=5, label="reward margin (validation)")
                twin.axhline(0, color=margin_color, linewidth=0.6, linestyle=":")
                twin.set_ylabel("Reward margin (chosen - rejected)", color=margin_color)
                twin.tick_params(axis="y", colors=margin_color)
            _legend_below(right, handles)
        else:
            _empty_panel(right, "no DPO log entries")

        figure.suptitle(title)
        save_figure(figure, out_stem)
    return series


def _loss_lines(ax, train, evaluation, epochs, loss_color, eval_color) -> list:
    handles = []
    if len(train[0]):
        handles += ax.plot(*train, color=loss_color, linewidth=1.2, label="loss (train)")
    if len(evaluation[0]):
        handles += ax.plot(*evaluation, "o", color=eval_color, markersize=5,
                           label="loss (validation)")
        for step, value, epoch in zip(*evaluation, epochs, strict=True):
            if epoch is not None:
                ax.annotate(f"epoch {epoch:g}", (step, value), textcoords="offset points",
                            xytext=(0, 6), ha="center", fontsize=7, color=eval_color)
    ax.set_xlabel("Step")
    ax.set_ylabel("Loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return handles


def _legend_below(ax, handles) -> None:
    kwargs = {} if handles is None else {"handles": handles}
    ax.legend(**kwargs, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2,
              frameon=False, fontsize=8)
