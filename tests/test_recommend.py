"""Recommendations in plain words, from the stats table of a task and model."""

import pandas as pd
import pytest

from sftdpo.recommend import recommendation, recommendations_html, recommendations_markdown


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
    cost = {"flops": 2.31, "cpu_seconds": 2.44, "wall_seconds": 2.5,
            "accelerator_seconds": float("nan"), "tokens": 1.0}
    line = recommendation("radiology_finding", "m", "macro_f1", {0: stats(dpo_diff, dpo_p)}, cost)
    assert line.startswith("- radiology_finding, m: " + expected)
    assert "SFT was better than the base model" in line
    assert line.endswith("DPO training took 2.3x the FLOPs of SFT (estimated; measured: 2.4x the "
                         "CPU time; the paper: 2 to 3 times the compute).")


def test_gpu_time_is_given_where_it_was_measured():
    cost = {"flops": 2.6, "cpu_seconds": 1.5, "accelerator_seconds": 2.91, "tokens": 1.0}
    assert "took 2.6x the FLOPs of SFT (estimated; measured: 2.9x the GPU time;" in \
        recommendation("t", "m", "macro_f1", {0: stats(0.1, 0.01)}, cost)


def test_numbers_are_formatted_as_in_the_table():
    line = recommendation("t", "m", "accuracy", {0: stats(0.12, 0.003, metric="accuracy")}, None)
    # The P printed is the Holm-adjusted one, named so, as in the table and the figures.
    assert "accuracy SFT -> DPO 40% -> 52% (+12%; 95% CI 7% to 17%; P(Holm)=.003)" in line
    assert "(+30%; 95% CI 25% to 35%; P(Holm)=.001)" in line
    assert "P(Holm)<.001" in recommendation("t", "m", "accuracy",
                                            {0: stats(0.12, 0.0004, metric="accuracy")}, None)
    assert "FLOPs" not in line


def test_neither_when_sft_did_not_beat_base():
    line = recommendation("t", "m", "macro_f1", {0: stats(0.0, 0.9, sft_diff=-0.1, sft_p=0.3)},
                          None)
    assert "**Neither helped significantly**" in line


def test_base_comparison_words():
    assert "not significantly different from the base" in recommendation(
        "t", "m", "macro_f1", {0: stats(0.0, 0.9, sft_p=0.2)}, None)
    assert "worse than the base" in recommendation(
        "t", "m", "macro_f1", {0: stats(0.0, 0.9, sft_diff=-0.1)}, None)


def test_markdown_has_a_line_per_entry():
    entries = [{"task": t, "model": "m", "metric": "macro_f1",
                "stats_by_seed": {0: stats(0.1, 0.01)}, "cost": None}
               for t in ("a", "b")]
    text = recommendations_markdown(entries)
    assert text.startswith("# Does DPO pay?")
    assert text.count("\n- ") == 2


def test_over_seeds_the_test_over_all_seeds_decides():
    per_seed = {0: stats(0.12, 0.003), 1: stats(0.10, 0.01), 2: stats(0.02, 0.6)}
    line = recommendation("t", "m", "macro_f1", per_seed, None, pooled=stats(0.08, 0.004))
    assert line.startswith("- t, m: **DPO adds 0.08 macro_f1** over SFT")
    assert ("0.40 -> 0.48 (+0.08, mean of 3 seeds; 95% CI 0.03 to 0.13; P(Holm)=.004 over all "
            "seeds; per seed .003 / .010 / .60)") in line
    # Two of three seeds significant alone, but not the test over all of them: no effect.
    assert "**SFT is enough**" in recommendation("t", "m", "macro_f1", per_seed, None,
                                                 pooled=stats(0.08, 0.09))
    with pytest.raises(ValueError, match="several seeds need the test over all seeds"):
        recommendation("t", "m", "macro_f1", per_seed, None)


def test_html_is_written_from_the_same_segments_not_parsed_from_markdown():
    entries = [{"task": "t<1>", "model": "m", "metric": "macro_f1",
                "stats_by_seed": {0: stats(0.0, 0.9)}, "cost": None}]
    page = recommendations_html(entries)
    assert "<li>t&lt;1&gt;, m: <strong>SFT is enough</strong>: DPO made no significant" in page
    assert "**" not in page and page.startswith("<p>Read from the headline metric")
    markdown = recommendations_markdown(entries)
    assert "- t<1>, m: **SFT is enough**: DPO made no significant" in markdown
