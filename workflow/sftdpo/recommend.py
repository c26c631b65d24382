"""Plain-words recommendations: per task and model, is SFT enough or does DPO pay?

The decision reads the task's headline metric (the first it reports: macro F1, accuracy or the
Likert grade) and P(Holm), the paired test's P of DPO vs SFT Holm-adjusted over the three
comparisons of the model and task (the P the table and the figures print), at the 5% level.
With several training seeds it reads the one test over all seeds (sftdpo.stats.compare_pooled)
and also gives each seed's P:

* DPO significantly better than SFT: "DPO adds <diff> <metric> over SFT (P(Holm)=...)".
* DPO significantly worse: "DPO is worse than SFT ...: use SFT".
* no significant difference, where SFT beat the base model: "SFT is enough";
* otherwise: "Neither helped significantly".

Each line also says how SFT compared with the base model, and what DPO's training cost relative
to SFT's: the estimated FLOPs, with the measured GPU time (on a GPU) or CPU time (from
results/summary/compute.csv), to set beside the paper's "2 to 3 times".

A recommendation is a list of (text, bold) segments, written out as Markdown
(:func:`recommendations_markdown`) and as HTML (:func:`recommendations_html`) alike.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

from .table import P_NAME, format_p, format_value

ALPHA = 0.05
Segments = list[tuple[str, bool]]


def _row(stats: pd.DataFrame, comparison: str, metric: str) -> pd.Series:
    return stats.set_index(["comparison", "metric"]).loc[(comparison, metric)]


def p_phrase(p: float) -> str:
    """"P(Holm)=.003", "P(Holm)<.001", "P(Holm)>.99"."""
    text = format_p(p)
    return f"{P_NAME}{text}" if text[0] in "<>" else f"{P_NAME}={text}"


def _change(metric: str, row: pd.Series, seeds: list[pd.Series]) -> str:
    """The change a -> b with its CI and P(Holm); over several seeds, ``row`` is the test over
    all seeds (its values the means over seeds) and each seed's P follows."""
    sign = "+" if row["diff"] >= 0 else "-"
    over = (f", mean of {len(seeds)} seeds" if len(seeds) > 1 else "")
    p = p_phrase(row["p_adjusted"]) + (" over all seeds" if len(seeds) > 1 else "")
    per_seed = ("; per seed " + " / ".join(format_p(s["p_adjusted"]) for s in seeds)
                if len(seeds) > 1 else "")
    return (f"{format_value(metric, row['a'])} -> {format_value(metric, row['b'])} "
            f"({sign}{format_value(metric, abs(row['diff']))}{over}; 95% CI "
            f"{format_value(metric, row['ci_low'])} to {format_value(metric, row['ci_high'])}; "
            f"{p}{per_seed})")


def _significant(row: pd.Series, direction: int) -> bool:
    return row["p_adjusted"] < ALPHA and row["diff"] * direction > 0


def recommendation_segments(task: str, model: str, metric: str,
                            stats_by_seed: Mapping[int, pd.DataFrame], cost: Mapping | None,
                            pooled: pd.DataFrame | None = None) -> Segments:
    """The recommendation for a task and model as (text, bold) segments. ``stats_by_seed``:
    the stats table of each training seed; ``pooled``: the test over all seeds (needed with
    several). ``cost``: DPO's training measures over SFT's (a ``dpo_over_sft`` row of
    compute.csv), or None."""
    seeds = [stats for _, stats in sorted(stats_by_seed.items())]
    if len(seeds) > 1 and pooled is None:
        raise ValueError(f"{task}, {model}: several seeds need the test over all seeds")
    decisive = seeds[0] if len(seeds) == 1 else pooled
    dpo, sft = _row(decisive, "sft_vs_dpo", metric), _row(decisive, "base_vs_sft", metric)
    if _significant(dpo, +1):
        verdict = [(f"DPO adds {format_value(metric, dpo['diff'])} {metric}", True),
                   (" over SFT", False)]
    elif _significant(dpo, -1):
        verdict = [("DPO is worse than SFT; use SFT", True)]
    elif _significant(sft, +1):
        verdict = [("SFT is enough", True), (": DPO made no significant difference", False)]
    else:
        verdict = [("Neither helped significantly", True),
                   (": SFT did not beat the base model and DPO did not beat SFT", False)]
    sft_words = ("better than" if _significant(sft, +1) else
                 "worse than" if _significant(sft, -1) else "not significantly different from")
    dpo_change = _change(metric, dpo, [_row(s, "sft_vs_dpo", metric) for s in seeds])
    sft_change = _change(metric, sft, [_row(s, "base_vs_sft", metric) for s in seeds])
    return [(f"{task}, {model}: ", False), *verdict,
            (f" ({metric} SFT -> DPO {dpo_change}). SFT was {sft_words} the base model "
             f"({sft_change}).{_cost(cost)}", False)]


def _cost(cost: Mapping | None) -> str:
    """DPO's training cost over SFT's: estimated FLOPs and a measured time, set beside the
    paper's figure."""
    if cost is None:
        return ""
    gpu = cost.get("accelerator_seconds")
    measured = (f"{gpu:.1f}x the GPU time" if gpu is not None and not pd.isna(gpu)
                else f"{cost['cpu_seconds']:.1f}x the CPU time")
    return (f" DPO training took {cost['flops']:.1f}x the FLOPs of SFT (estimated; measured: "
            f"{measured}; the paper: 2 to 3 times the compute).")


def recommendation(task: str, model: str, metric: str,
                   stats_by_seed: Mapping[int, pd.DataFrame], cost: Mapping | None,
                   pooled: pd.DataFrame | None = None) -> str:
    """One Markdown bullet (:func:`recommendation_segments`)."""
    return "- " + "".join(f"**{text}**" if bold else text for text, bold in
                          recommendation_segments(task, model, metric, stats_by_seed, cost,
                                                  pooled))


INTRODUCTION = (f"Read from the headline metric of each task and {P_NAME}, the paired test's P "
                "of DPO vs SFT on the same test items Holm-adjusted over the three comparisons "
                f"of the model and task (significant below {ALPHA}; with several seeds, the one "
                "test over all seeds). Differences are DPO minus SFT; their 95% CIs are paired "
                f"bootstrap intervals, not adjusted, so one can exclude 0 beside a {P_NAME} "
                "above .05.")


def _segments(entry: Mapping) -> Segments:
    return recommendation_segments(entry["task"], entry["model"], entry["metric"],
                                   entry["stats_by_seed"], entry["cost"], entry.get("pooled"))


def recommendations_markdown(entries: list[dict]) -> str:
    """The recommendations file. ``entries``: dicts with task, model, metric, stats_by_seed
    (the stats table of that model and task per training seed), pooled (the test over all
    seeds, or None with one seed) and cost (DPO over SFT, or None)."""
    lines = ["# Does DPO pay? Recommendations per task and model", "", INTRODUCTION, ""]
    lines += ["- " + "".join(f"**{text}**" if bold else text for text, bold in _segments(e))
              for e in entries]
    return "\n".join(lines) + "\n"


def recommendations_html(entries: list[dict]) -> str:
    """The same recommendations as an HTML fragment: the introduction and a list."""
    items = "".join(
        "<li>" + "".join(f"<strong>{html.escape(text)}</strong>" if bold else html.escape(text)
                         for text, bold in _segments(e)) + "</li>"
        for e in entries)
    return f"<p>{html.escape(INTRODUCTION)}</p>\n<ul>{items}</ul>"
