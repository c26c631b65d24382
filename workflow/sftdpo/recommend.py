"""Plain-words recommendations: per task and model, does DPO pay for its extra compute?

Each recommendation reads one :class:`sftdpo.decision.Decision` (the primary hypothesis and
its verdict under the decision rule), then gives the secondary comparisons of the same task
and model (unadjusted, for description) and DPO's whole extra cost: the preference pairs and
DPO's training over SFT's, in FLOPs and in measured device seconds (the ``dpo_costs`` row of
:mod:`sftdpo.compute`), beside the paper's "2 to 3 times".

A recommendation is a list of (text, bold) segments, written out as Markdown
(:func:`recommendations_markdown`) and as HTML (:func:`recommendations_html`) alike.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

from .decision import Decision
from .table import format_value, p_phrase

Segments = list[tuple[str, bool]]
METHOD_WORDS = {"base": "the base model", "sft": "SFT", "sft_matched": "the matched control",
                "dpo": "DPO"}
# The headline of each verdict: with the matched-compute control, and against SFT alone.
HEADLINES = {
    ("better", True): "DPO pays: it beats SFT given the same extra compute",
    ("equivalent", True): "DPO does not pay: more SFT for the same compute buys the same",
    ("worse", True): "DPO does not pay: more SFT for the same compute does better",
    ("better", False): "DPO beats SFT (its extra compute not controlled for)",
    ("equivalent", False): "SFT is enough: DPO is equivalent to SFT",
    ("worse", False): "DPO is worse than SFT: use SFT",
}
WORTHWHILE = {"yes": ", by at least the minimum worthwhile difference",
              "no": ", but by less than the minimum worthwhile difference",
              "uncertain": "; whether by the minimum worthwhile difference is uncertain"}


def signed(metric: str, value: float) -> str:
    return ("+" if value >= 0 else "-") + format_value(metric, abs(value))


def interval(metric: str, row: Mapping) -> str:
    return (f"{row['ci_level']:.1%} CI {format_value(metric, row['ci_low'])} to "
            f"{format_value(metric, row['ci_high'])}")


def headline(decision: Decision) -> str:
    record = decision.record()
    control = record["comparison"] == "sft_matched_vs_dpo"
    if record["verdict"] == "inconclusive":
        return "Inconclusive"
    return HEADLINES[(record["verdict"], control)] + WORTHWHILE.get(record["worthwhile"], "")


def primary_sentence(decision: Decision) -> str:
    record = decision.record()
    metric = record["metric"]
    a = METHOD_WORDS[record["comparison"].split("_vs_")[0]]
    text = (f"Primary: {metric}, DPO minus {a} {signed(metric, record['diff'])} "
            f"({interval(metric, record)}; {p_phrase(record['p_adjusted'])}, adjusted "
            f"over {record['n_primary']} primary hypotheses); minimum worthwhile difference "
            f"{format_value(metric, record['margin'])}.")
    if record["verdict"] == "inconclusive":
        text += " " + inconclusive_sentence(record)
    return text


def inconclusive_sentence(record: Mapping) -> str:
    """What the test set could detect, and what detecting the margin would take."""
    metric, grouped = record["metric"], record["unit"] == "group"
    items = f"{record['n_items']} test items" + (
        f" in {record['n_units']} groups" if grouped else "")
    if math.isinf(record["detectable"]):
        return (f"The interval holds both 0 and a difference as large as the margin: with "
                f"{items} no difference can reach the adjusted level at all ({record['n_units']} "
                f"groups give no P below 1/{2 ** (record['n_units'] - 1)}); at least "
                f"{record['units_to_reach_level']} groups are needed before any can.")
    needed = f"about {record['items_needed']:,} items" + (
        f" ({record['units_needed']:,} groups)" if grouped else "")
    return (f"The interval holds both 0 and a difference as large as the margin: with {items} "
            f"this test could detect a difference of about "
            f"{format_value(metric, record['detectable'])}; {needed} would detect the margin.")


def secondary_sentence(stats: pd.DataFrame, metric: str) -> str:
    """The other comparisons on the primary metric, with their unadjusted 95% CIs."""
    parts = []
    for _, row in stats[(stats["role"] == "secondary") & (stats["metric"] == metric)].iterrows():
        a, b = row["comparison"].split("_vs_")
        parts.append(f"{METHOD_WORDS[b]} minus {METHOD_WORDS[a]} {signed(metric, row['diff'])} "
                     f"({format_value(metric, row['ci_low'])} to "
                     f"{format_value(metric, row['ci_high'])}, {p_phrase(row['p_value'])})")
    if not parts:
        return ""
    return " Secondary, not adjusted (95% CIs): " + "; ".join(parts) + "."


def cost_sentence(cost: Mapping | None) -> str:
    """DPO's whole extra cost over SFT: pairs and DPO training, in FLOPs and device time."""
    if cost is None:
        return ""
    gpu = cost.get("extra_accelerator_ratio")
    measured = (f"{gpu:.2f}x its GPU seconds" if gpu is not None and not pd.isna(gpu)
                else f"{cost['extra_cpu_ratio']:.2f}x its CPU seconds")
    text = (f" Cost: DPO's extra steps (building the preference pairs and DPO training) took "
            f"{cost['extra_flops_ratio']:.2f}x SFT's FLOPs ({measured}), so SFT then DPO "
            f"cost {cost['pipeline_flops_ratio']:.2f}x SFT alone (the paper: 2 to 3 times).")
    matched = cost.get("matched_flops_ratio")
    if matched is not None and not pd.isna(matched):
        text += f" The matched control trained for {matched:.2f}x those extra FLOPs."
    tuning = cost.get("tuning_flops_ratio")
    if tuning:
        text += f" Tuning on validation cost another {tuning:.2f}x SFT's FLOPs."
    return text


def recommendation_segments(decision: Decision, stats: pd.DataFrame,
                            cost: Mapping | None) -> Segments:
    """The recommendation for one task and model as (text, bold) segments."""
    metric = decision.record()["metric"]
    return [(f"{decision.task}, {decision.model}: ", False), (headline(decision) + ".", True),
            (" " + primary_sentence(decision) + secondary_sentence(stats, metric)
             + cost_sentence(cost), False)]


def _segments(entry: Mapping) -> Segments:
    return recommendation_segments(entry["decision"], entry["stats"], entry.get("cost"))


def recommendations_markdown(entries: list[dict], rule: str, notes: list[str] = (),
                             figure: str | None = None) -> str:
    """The recommendations file. ``entries``: dicts with decision, stats (the model and
    task's stats table) and cost (its ``dpo_costs`` row, or None); ``rule``: the decision
    rule's paragraph; ``notes``: warnings (unequal tuning budgets); ``figure``: the forest
    plot's path relative to the file, shown first."""
    lines = ["# Does DPO pay? Recommendations per task and model", ""]
    if figure:
        lines += [f"![The primary difference of every task and model]({figure})", ""]
    lines += [rule, ""] + [f"**Note:** {note}\n" for note in notes]
    lines += ["- " + "".join(f"**{text}**" if bold else text for text, bold in _segments(e))
              for e in entries]
    return "\n".join(lines) + "\n"


def recommendations_html(entries: list[dict], rule: str, notes: list[str] = ()) -> str:
    """The same recommendations as an HTML fragment: the rule, the notes and a list."""
    items = "".join(
        "<li>" + "".join(f"<strong>{html.escape(text)}</strong>" if bold else html.escape(text)
                         for text, bold in _segments(e)) + "</li>"
        for e in entries)
    warnings = "".join(f"<p><strong>Note:</strong> {html.escape(note)}</p>" for note in notes)
    return f"<p>{html.escape(rule)}</p>\n{warnings}<ul>{items}</ul>"
