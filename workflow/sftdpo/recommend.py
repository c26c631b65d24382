"""Plain-words recommendations: per task and model, is SFT enough or does DPO pay?

The decision reads the task's headline metric (the first it reports: macro F1, accuracy or the
Likert grade) and the Holm-adjusted P value of DPO vs SFT on it, at the 5% level:

* DPO significantly better than SFT: "DPO adds <diff> <metric> over SFT (P=...)".
* DPO significantly worse: "DPO is worse than SFT ...: use SFT".
* no significant difference, where SFT beat the base model: "SFT is enough";
* otherwise: "Neither helped significantly".

Each line also says how SFT compared with the base model, and what DPO cost in training wall
time relative to SFT (from the adapters' ``train_summary.json``), to set beside the paper's
"2 to 3 times".
"""

from __future__ import annotations

import pandas as pd

from .summary import format_p, format_value

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


def recommendation(task: str, model: str, metric: str, stats: pd.DataFrame,
                   dpo_over_sft_time: float | None) -> str:
    """One Markdown bullet for a task and model."""
    dpo = _row(stats, "sft_vs_dpo", metric)
    sft = _row(stats, "base_vs_sft", metric)
    sft_helped = sft["p_adjusted"] < ALPHA and sft["diff"] > 0
    if dpo["p_adjusted"] < ALPHA and dpo["diff"] > 0:
        verdict = f"**DPO adds {format_value(metric, dpo['diff'])} {metric}** over SFT"
    elif dpo["p_adjusted"] < ALPHA:
        verdict = "**DPO is worse than SFT; use SFT**"
    elif sft_helped:
        verdict = "**SFT is enough**: DPO made no significant difference"
    else:
        verdict = ("**Neither helped significantly**: SFT did not beat the base model and DPO "
                   "did not beat SFT")
    sft_words = ("better than" if sft["diff"] > 0 else "worse than") \
        if sft["p_adjusted"] < ALPHA else "not significantly different from"
    cost = ("" if dpo_over_sft_time is None else
            f" DPO training took {dpo_over_sft_time:.1f}x the wall time of SFT "
            "(the paper: 2 to 3 times the compute).")
    return (f"- {task}, {model}: {verdict} ({metric} SFT -> DPO {_change(metric, dpo)}). "
            f"SFT was {sft_words} the base model ({_change(metric, sft)}).{cost}")


def recommendations_markdown(entries: list[dict]) -> str:
    """The recommendations file. ``entries``: dicts with task, model, metric, stats (the stats
    table of that model and task) and dpo_over_sft_time (or None)."""
    lines = [
        "# Does DPO pay? Recommendations per task and model",
        "",
        "Read from the headline metric of each task and the Holm-adjusted P value of DPO vs SFT "
        f"on the same test items (significant below {ALPHA}). Differences are DPO minus SFT.",
        "",
    ]
    lines += [recommendation(e["task"], e["model"], e["metric"], e["stats"],
                             e["dpo_over_sft_time"]) for e in entries]
    return "\n".join(lines) + "\n"
