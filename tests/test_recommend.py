"""Recommendations in plain words, from the stats table of a task and model."""

import pandas as pd
import pytest

from sftdpo.recommend import recommendation, recommendations_markdown


def stats(dpo_diff, dpo_p, sft_diff=0.3, sft_p=0.001, metric="macro_f1"):
    rows = []
    for comparison, a, diff, p in (("base_vs_sft", 0.1, sft_diff, sft_p),
                                   ("sft_vs_dpo", 0.4, dpo_diff, dpo_p),
                                   ("base_vs_dpo", 0.1, sft_diff + dpo_diff, 0.5)):
        rows.append({"comparison": comparison, "metric": metric, "a": a, "b": a + diff,
                     "diff": diff, "ci_low": diff - 0.05, "ci_high": diff + 0.05,
                     "p_value": p / 2, "p_adjusted": p})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("dpo_diff", "dpo_p", "expected"), [
    (0.12, 0.003, "**DPO adds 0.12 macro_f1** over SFT"),
    (-0.2, 0.0001, "**DPO is worse than SFT; use SFT**"),
    (0.02, 0.55, "**SFT is enough**: DPO made no significant difference"),
    (0.3, 0.051, "**SFT is enough**"),  # the decision uses the Holm-adjusted P
])
def test_verdict_follows_the_adjusted_p_of_dpo_vs_sft(dpo_diff, dpo_p, expected):
    line = recommendation("radiology_finding", "m", "macro_f1", stats(dpo_diff, dpo_p), 2.4)
    assert line.startswith("- radiology_finding, m: " + expected)
    assert "SFT was better than the base model" in line
    assert "DPO training took 2.4x the wall time of SFT" in line


def test_numbers_are_formatted_as_in_the_table():
    line = recommendation("t", "m", "accuracy", stats(0.12, 0.003, metric="accuracy"), None)
    assert "accuracy SFT -> DPO 40% -> 52% (+12%; 95% CI 7% to 17%; P=.003)" in line
    assert "(+30%; 95% CI 25% to 35%; P=.001)" in line
    assert "P<.001" in recommendation("t", "m", "accuracy",
                                      stats(0.12, 0.0004, metric="accuracy"), None)
    assert "wall time" not in line


def test_neither_when_sft_did_not_beat_base():
    line = recommendation("t", "m", "macro_f1", stats(0.0, 0.9, sft_diff=-0.1, sft_p=0.3),
                          None)
    assert "**Neither helped significantly**" in line


def test_base_comparison_words():
    assert "not significantly different from the base" in recommendation(
        "t", "m", "macro_f1", stats(0.0, 0.9, sft_p=0.2), None)
    assert "worse than the base" in recommendation(
        "t", "m", "macro_f1", stats(0.0, 0.9, sft_diff=-0.1), None)


def test_markdown_has_a_line_per_entry():
    entries = [{"task": t, "model": "m", "metric": "macro_f1", "stats": stats(0.1, 0.01),
                "dpo_over_sft_time": None} for t in ("a", "b")]
    text = recommendations_markdown(entries)
    assert text.startswith("# Does DPO pay?")
    assert text.count("\n- ") == 2
