"""The answer first, as a picture: one forest plot per experiment.

A row per task and model: the primary difference (DPO minus the matched-compute control, or
minus SFT without one) with the interval the verdict reads, and, where the control ran, DPO
minus SFT with its 95% interval (secondary, open marker). Tasks decide on different metrics
and margins, so the x axis is the difference in units of each task's minimum worthwhile
difference delta: the band from -1 to +1 is "equivalent", and an interval inside it means
SFT given DPO's compute (or SFT) does as well. At the right of each row, the verdict and
DPO's extra cost over SFT's (pairs and DPO training, in FLOPs). Ends beyond the axis's reach
are drawn as arrows at its edge; a difference beyond it sits at the edge with its value beside it.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd

from .figures import METHOD_COLORS, _new_figure, _style, save_figure
from .table import format_value

# The axis reaches this many margins each way at most; longer intervals end in an arrow.
REACH = 8.0
PRIMARY_NAMES = {"sft_matched_vs_dpo": "DPO minus the matched control",
                 "sft_vs_dpo": "DPO minus SFT"}


def _row_label(row: pd.Series, several_models: bool) -> str:
    model = f", {row['model']}" if several_models else ""
    return (f"{row['task']}{model}\n{row['metric']} "
            f"(margin {format_value(row['metric'], row['margin'])})")


def _interval(ax, y: float, centre: float, low: float, high: float, reach: float,
              color: str, filled: bool) -> None:
    """One difference and its interval, in margins, clipped to the axis with arrows."""
    shown_low, shown_high = max(low, -reach), min(high, reach)
    ax.plot([shown_low, shown_high], [y, y], color=color, linewidth=2.0 if filled else 1.2)
    for end, shown, marker in ((low, shown_low, "<"), (high, shown_high, ">")):
        if end != shown:
            ax.plot(shown, y, marker, color=color, markersize=6)
    shown_centre = float(np.clip(centre, -reach, reach))
    ax.plot(shown_centre, y, "o", markersize=7 if filled else 6,
            color=color, markerfacecolor=color if filled else "white", zorder=3)
    if shown_centre != centre:
        # A dot at the edge would read as a difference of exactly the reach: write its value.
        inward = 1 if centre < 0 else -1
        ax.annotate(f"{centre:+.1f}", (shown_centre, y), xytext=(4 * inward, 5),
                    textcoords="offset points", ha="left" if inward > 0 else "right",
                    fontsize=7, color=color)


def plot_forest(verdicts: pd.DataFrame, out_stem: str | Path) -> list[Path]:
    """The forest plot of ``verdicts`` (``verdicts.csv``: :data:`sftdpo.decision`'s columns,
    with DPO minus SFT and the extra-cost ratio beside them). Returns the paths written."""
    if verdicts.empty:
        raise ValueError("no verdicts to plot")
    rows = verdicts.reset_index(drop=True)
    several_models = rows["model"].nunique() > 1
    scaled = {name: rows[column] / rows["margin"] for name, column in (
        ("diff", "diff"), ("low", "ci_low"), ("high", "ci_high"), ("sft", "dpo_minus_sft"),
        ("sft_low", "dpo_minus_sft_ci_low"), ("sft_high", "dpo_minus_sft_ci_high"))}
    ends = pd.concat([scaled[k] for k in ("low", "high", "sft_low", "sft_high")]).abs()
    reach = float(min(REACH, max(2.0, np.nanmax(ends.to_numpy()) * 1.05)))
    primary = PRIMARY_NAMES.get(rows["comparison"].iloc[0], rows["comparison"].iloc[0])
    level = rows["ci_level"].iloc[0]

    with _style():
        figure = _new_figure(9.5, 1.2 + 0.62 * len(rows))
        ax = figure.add_subplot()
        ax.axvspan(-1, 1, color="#dddddd", zorder=0, label="within the margin")
        ax.axvline(0, color="#333333", linewidth=0.8)
        for i, row in rows.iterrows():
            y = len(rows) - 1 - i
            if not pd.isna(scaled["sft"][i]):
                _interval(ax, y - 0.18, scaled["sft"][i], scaled["sft_low"][i],
                          scaled["sft_high"][i], reach, METHOD_COLORS["sft"], filled=False)
            _interval(ax, y + (0.12 if not pd.isna(scaled["sft"][i]) else 0.0),
                      scaled["diff"][i], scaled["low"][i], scaled["high"][i], reach,
                      METHOD_COLORS["dpo"], filled=True)
            cost = row.get("extra_flops_ratio")
            cost_text = "" if cost is None or pd.isna(cost) else f"\nextra cost {cost:.2f}x SFT"
            ax.text(1.01, y, f"{row['verdict']}{cost_text}", transform=ax.get_yaxis_transform(),
                    va="center", fontsize=8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([_row_label(row, several_models)
                            for _, row in rows.iloc[::-1].iterrows()], fontsize=8)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlim(-reach, reach)
        ax.set_xlabel("Difference in units of the task's minimum worthwhile difference "
                      "(the grey band: equivalent)")
        handles = [ax.plot([], [], "o-", color=METHOD_COLORS["dpo"],
                           label=f"{primary} ({level:.1%} CI, decides)")[0]]
        if scaled["sft"].notna().any():
            handles.append(ax.plot([], [], "o-", color=METHOD_COLORS["sft"],
                                   markerfacecolor="white",
                                   label="DPO minus SFT (95% CI, secondary)")[0])
        figure.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False,
                      fontsize=8)
        ax.set_title("Does DPO pay? The primary difference of every task and model", fontsize=10)
        return save_figure(figure, out_stem)


LANDING = """Does DPO pay for its extra compute?
===================================

.. raw:: html

   <img style="width: 100%"
    alt="Every task and model's primary difference, in units of its margin"
    src="data:image/png;base64,
{image}">

Every task and model's primary difference: {primary} with the interval the verdict reads, and
DPO minus SFT beside it, in units of each task's minimum worthwhile difference (the grey band:
equivalent).

{rule}

The verdicts, the recommendations, the paper-style table and DPO's whole extra cost are on the
summary page (Summary_, summary.html); the figures per task under Figures_.
"""


def landing_page(png: str | Path, verdicts: pd.DataFrame, rule: str) -> str:
    """The HTML report's first page, as reStructuredText: the forest plot itself (a data URI:
    the report is one self-contained file) and the decision rule."""
    # In lines docutils accepts (at most 10,000 characters); a URL's parser drops newlines.
    encoded = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    image = "\n".join("   " + encoded[i:i + 76] for i in range(0, len(encoded), 76))
    primary = PRIMARY_NAMES.get(verdicts["comparison"].iloc[0], verdicts["comparison"].iloc[0])
    return LANDING.format(image=image, primary=primary, rule=rule)
