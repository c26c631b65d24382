"""Plain-words recommendations: per task and model, is SFT enough or does DPO pay?

The decision reads the task's headline metric (the first it reports: macro F1, accuracy or the
Likert grade) and the Holm-adjusted P value of DPO vs SFT on it, at the 5% level. With several
training seeds, each seed is tested on its own and a difference counts where it is significant,
in the same direction, in more than half of the seeds:

* DPO significantly better than SFT: "DPO adds <diff> <metric> over SFT (P=...)".
* DPO significantly worse: "DPO is worse than SFT ...: use SFT".
* no significant difference, where SFT beat the base model: "SFT is enough";
* otherwise: "Neither helped significantly".

Each line also says how SFT compared with the base model, and what DPO's training cost relative
to SFT's (wall time, GPU time on a GPU, tokens; from results/summary/compute.csv), to set beside
the paper's "2 to 3 times".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .table import format_p, format_value

ALPHA = 0.05


def _row(stats: pd.DataFrame, comparison: str, metric: str) -> pd.Series:
    return stats.set_index(["comparison", "metric"]).loc[(comparison, metric)]


def p_phrase(p: float) -> str:
    """"P=.003", "P<.001", "P>.99"."""
    text = format_p(p)
    return f"P{text}" if text[0] in "<>" else f"P={text}"


def _change(metric: str, row: pd.Series) -> str:
    sign = "+" if row["diff"] >= 0 else "-"
    return (f"{format_value(metric, row['a'])} -> {format_value(metric, row['b'])} "
            f"({sign}{format_value(metric, abs(row['diff']))}; 95% CI "
            f"{format_value(metric, row['ci_low'])} to {format_value(metric, row['ci_high'])}; "
            f"{p_phrase(row['p_adjusted'])})")


def _change_over_seeds(metric: str, rows: list[pd.Series]) -> str:
    """The mean change over seeds and how many seeds found it significant, with each P."""
    mean = {key: float(np.mean([row[key] for row in rows])) for key in ("a", "b", "diff")}
    sign = "+" if mean["diff"] >= 0 else "-"
    better = sum(_significant(row, +1) for row in rows)
    worse = sum(_significant(row, -1) for row in rows)
    p_values = " / ".join(format_p(row["p_adjusted"]) for row in rows)
    return (f"{format_value(metric, mean['a'])} -> {format_value(metric, mean['b'])} "
            f"({sign}{format_value(metric, abs(mean['diff']))}, mean of {len(rows)} seeds; "
            f"significantly better in {better} and worse in {worse} of {len(rows)} seeds; "
            f"P per seed {p_values})")


def _describe(metric: str, rows: list[pd.Series]) -> str:
    return _change(metric, rows[0]) if len(rows) == 1 else _change_over_seeds(metric, rows)


def _significant(row: pd.Series, direction: int) -> bool:
    return row["p_adjusted"] < ALPHA and row["diff"] * direction > 0


def _most_seeds(rows: list[pd.Series], direction: int) -> bool:
    """Significant in this direction in more than half of the seeds (with one seed: in it)."""
    return sum(_significant(row, direction) for row in rows) > len(rows) / 2


def recommendation(task: str, model: str, metric: str,
                   stats_by_seed: Mapping[int, pd.DataFrame],
                   cost: Mapping | None) -> str:
    """One Markdown bullet for a task and model; ``stats_by_seed``: the stats table of each
    training seed. Over several seeds a difference counts only where it is significant, in
    the same direction, in more than half of them. ``cost``: DPO's training measures over
    SFT's (a ``dpo_over_sft`` row of compute.csv: wall_seconds, accelerator_seconds, tokens),
    or None."""
    dpo = [_row(stats, "sft_vs_dpo", metric) for _, stats in sorted(stats_by_seed.items())]
    sft = [_row(stats, "base_vs_sft", metric) for _, stats in sorted(stats_by_seed.items())]
    dpo_diff = float(np.mean([row["diff"] for row in dpo]))
    if _most_seeds(dpo, +1):
        verdict = f"**DPO adds {format_value(metric, dpo_diff)} {metric}** over SFT"
    elif _most_seeds(dpo, -1):
        verdict = "**DPO is worse than SFT; use SFT**"
    elif _most_seeds(sft, +1):
        verdict = "**SFT is enough**: DPO made no significant difference"
    else:
        verdict = ("**Neither helped significantly**: SFT did not beat the base model and DPO "
                   "did not beat SFT")
    sft_words = ("better than" if _most_seeds(sft, +1) else
                 "worse than" if _most_seeds(sft, -1) else "not significantly different from")
    return (f"- {task}, {model}: {verdict} ({metric} SFT -> DPO {_describe(metric, dpo)}). "
            f"SFT was {sft_words} the base model ({_describe(metric, sft)}).{_cost(cost)}")


def _cost(cost: Mapping | None) -> str:
    """DPO's training cost over SFT's, set beside the paper's figure."""
    if cost is None:
        return ""
    measures = [f"{cost['wall_seconds']:.1f}x the wall time"]
    if not pd.isna(cost.get("accelerator_seconds")):
        measures.append(f"{cost['accelerator_seconds']:.1f}x the GPU time")
    measures.append(f"{cost['tokens']:.1f}x the tokens")
    return (f" DPO training took {', '.join(measures)} of SFT "
            "(the paper: 2 to 3 times the compute).")


def recommendations_markdown(entries: list[dict]) -> str:
    """The recommendations file. ``entries``: dicts with task, model, metric, stats_by_seed
    (the stats table of that model and task per training seed) and cost (DPO over SFT, or
    None)."""
    lines = [
        "# Does DPO pay? Recommendations per task and model",
        "",
        "Read from the headline metric of each task and the Holm-adjusted P value of DPO vs SFT "
        f"on the same test items (significant below {ALPHA}). Differences are DPO minus SFT.",
        "",
    ]
    lines += [recommendation(e["task"], e["model"], e["metric"], e["stats_by_seed"],
                             e["cost"]) for e in entries]
    return "\n".join(lines) + "\n"
