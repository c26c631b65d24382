"""The decision rule (sftdpo.decision) and the recommendations that read it."""

import math

import pandas as pd
import pytest

from sftdpo.config import task_metrics
from sftdpo.decision import (
    Decision,
    decide,
    default_margins,
    margin_for,
    needed,
    rule_text,
    verdict,
    worthwhile,
)
from sftdpo.metrics import LIKELIHOOD_PREFIX
from sftdpo.recommend import recommendations_markdown
from sftdpo.tasks import BUILTIN_TASKS, FAMILIES


def recommendation(decision, stats, cost) -> str:
    """The recommendation of one model and task: its bullet in recommendations.md."""
    text = recommendations_markdown([{"decision": decision, "stats": stats, "cost": cost}], "")
    return next(line for line in text.splitlines() if line.startswith("- "))


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.01, 0.20, "better"),        # above 0
    (-0.20, -0.01, "worse"),       # below 0
    (-0.04, 0.03, "equivalent"),   # inside +-0.05
    (-0.02, 0.08, "inconclusive"),  # holds 0 and reaches past +0.05
    (-0.05, 0.01, "inconclusive"),  # touches the margin: not inside it
    (0.0, 0.0, "equivalent"),      # no discordant answer at all
])
def test_each_verdict_follows_from_the_interval_and_the_margin(low, high, expected):
    assert verdict(low, high, 0.05) == expected


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.06, 0.2, "yes"), (0.01, 0.04, "no"), (0.01, 0.2, "uncertain"), (-0.01, 0.2, "")])
def test_a_better_verdict_says_whether_the_gain_is_worthwhile(low, high, expected):
    assert worthwhile(low, high, 0.05) == expected


def test_items_needed_grow_with_the_square_of_detectable_over_margin():
    assert needed(100, 0.2, 0.05) == 1600
    assert needed(23, 0.2, 0.05) == 368


def test_a_margin_comes_from_the_task_then_the_config_then_the_default():
    assert margin_for("likelihood_macro_f1", {}) == default_margins()["macro_f1"]["delta"]
    assert margin_for("likelihood_macro_f1", {}, {"macro_f1": 0.1}) == 0.1
    assert margin_for("likelihood_macro_f1", {}, {"likelihood_macro_f1": 0.2}) == 0.2
    assert margin_for("likert", {"margin": 0.3}, {"likert": 0.2}) == 0.3


def test_every_metric_a_task_can_be_decided_on_has_a_default_margin_with_its_reason():
    configs = [{"evaluation": {"mode": mode}, "judge": {"model": "m"} if judged else None}
               for mode in ("generate", "likelihood", "both") for judged in (False, True)]
    decidable = {metric.removeprefix(LIKELIHOOD_PREFIX)
                 for config in configs
                 for name in [*BUILTIN_TASKS, *FAMILIES]
                 for metric in task_metrics(
                     name, {"family": name, "data": {}} if name in FAMILIES else {}, config)}
    margins = default_margins()
    assert set(margins) == decidable
    assert all(entry["delta"] > 0 and len(entry["reason"]) > 40 for entry in margins.values())


def stats_table(primary_low, primary_high, diff=0.05, units=23, detectable=0.2):
    rows = []
    for comparison, role, low, high in (("sft_matched_vs_dpo", "primary", primary_low,
                                         primary_high),
                                        ("sft_vs_dpo", "secondary", 0.02, 0.2),
                                        ("base_vs_sft", "secondary", 0.1, 0.3)):
        rows.append({"comparison": comparison, "metric": "accuracy", "role": role,
                     "a": 0.5, "b": 0.5 + diff, "diff": diff, "ci_low": low, "ci_high": high,
                     "ci_level": 1 - 0.05 / 6 if role == "primary" else 0.95,
                     "test": "exact_sign_flip", "statistic": diff, "p_value": 0.2,
                     "p_adjusted": 1.0 if role == "primary" else math.nan, "se": 0.06,
                     "detectable": detectable, "n_items": 105, "n_units": units,
                     "unit": "group" if units < 105 else "item",
                     "n_seeds": 1})
    return pd.DataFrame(rows)


COST = {"extra_flops_ratio": 0.79, "extra_cpu_ratio": 0.85, "extra_accelerator_ratio": math.nan,
        "pipeline_flops_ratio": 1.79, "matched_flops_ratio": 1.01, "tuning_flops_ratio": 0.0}


def test_an_inconclusive_verdict_never_reads_as_sft_is_enough():
    decision = decide("m", "urgency", stats_table(-0.02, 0.21), 0.05, 6, COST)
    text = recommendation(decision, stats_table(-0.02, 0.21), COST)
    assert decision.verdict == "inconclusive"
    assert "**Inconclusive.**" in text and "enough" not in text
    assert "could detect a difference of about 20%" in text
    assert "1,680 items (368 groups) would detect the margin" in text
    assert "took 0.79x SFT's FLOPs (0.85x its CPU seconds)" in text
    assert "cost 1.79x SFT alone" in text and "1.01x those extra FLOPs" in text


def test_an_interval_inside_the_margin_says_more_sft_buys_the_same():
    decision = decide("m", "t", stats_table(-0.03, 0.04, diff=0.005), 0.05, 6, COST)
    text = recommendation(decision, stats_table(-0.03, 0.04), COST)
    assert decision.verdict == "equivalent"
    assert "DPO does not pay: more SFT for the same compute buys the same" in text
    record = decision.record()
    assert record["dpo_minus_sft_ci_low"] == 0.02 and record["extra_flops_ratio"] == 0.79


def test_without_the_control_equivalence_says_sft_is_enough():
    table = stats_table(0.02, 0.2)
    table = table[table["comparison"] != "sft_matched_vs_dpo"].copy()
    table.loc[table["comparison"] == "sft_vs_dpo", ["role", "ci_low", "ci_high"]] = [
        "primary", -0.02, 0.03]
    decision = decide("m", "t", table, 0.05, 1)
    assert decision.verdict == "equivalent"
    assert "SFT is enough" in recommendation(decision, table, None)
    assert math.isnan(decision.record()["dpo_minus_sft"])


def test_the_file_opens_on_the_forest_plot_and_the_rule():
    decision = Decision("m", "t", stats_table(0.06, 0.3).iloc[0], 0.05, 6)
    text = recommendations_markdown([{"decision": decision, "stats": stats_table(0.06, 0.3)}],
                                    rule_text(True, 6, 0.05, 0.8), ["budgets differ"],
                                    figure="forest.png")
    lines = text.splitlines()
    assert lines[2] == "![The primary difference of every task and model](forest.png)"
    assert "99.2% confidence interval (Bonferroni over the 6 primary hypotheses" in text
    assert "**Note:** budgets differ" in text
    assert ("DPO pays: it beats SFT given the same extra compute, by at least the minimum "
            "worthwhile difference") in text


def test_with_items_as_units_the_sentence_names_items_once():
    table = stats_table(-0.02, 0.21, units=105)
    text = recommendation(decide("m", "t", table, 0.05, 6, COST), table, COST)
    assert "with 105 test items this test could detect" in text
    assert "about 1,680 items would detect the margin" in text and "groups" not in text


def test_too_few_groups_to_reach_the_level_say_so_instead_of_a_detectable_difference():
    table = stats_table(-0.3, 0.4, units=4, detectable=math.inf)
    decision = decide("m", "t", table, 0.1, 6, COST)
    record = decision.record()
    assert decision.verdict == "inconclusive" and math.isnan(record["items_needed"])
    # 0.05 / 6 needs 2 / 2^C <= .0083: C >= 8.
    assert record["units_to_reach_level"] == 8
    text = recommendation(decision, table, COST)
    assert ("with 105 test items in 4 groups no difference can reach the adjusted level at all "
            "(4 groups give no P below 1/8); at least 8 groups are needed before any can") in text
