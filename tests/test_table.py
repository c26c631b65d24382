import math

import pandas as pd
import pytest

from sftdpo.table import (
    LONG_COLUMNS,
    format_p,
    format_value,
    long_table,
    p_note,
    per_seed_table,
    to_html,
    to_markdown,
    verdict_cells,
    wide_table,
)


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.0004, "<.001"), (0.003, ".003"), (0.0449, ".045"), (0.55, ".55"), (0.994, ">.99"),
     (1.0, ">.99"), (float("nan"), "n/a")],
)
def test_p_values_print_as_in_the_paper(p, text):
    assert format_p(p) == text


def test_values_print_as_in_the_paper():
    assert format_value("accuracy", 0.355) == "36%"
    assert format_value("macro_f1", 0.7449) == "0.74"


def stats_rows(p_control, p_sft, primary="macro_f1"):
    """A stats table: DPO against the control and against SFT on two metrics, the primary
    row's P adjusted (6 hypotheses), the others plain."""
    rows = []
    for comparison, p in (("sft_matched_vs_dpo", p_control), ("sft_vs_dpo", p_sft),
                          ("base_vs_sft", 0.5)):
        for metric in ("macro_f1", "accuracy"):
            is_primary = comparison == "sft_matched_vs_dpo" and metric == primary
            rows.append({"comparison": comparison, "metric": metric,
                         "role": "primary" if is_primary else "secondary",
                         "p_value": p / 6 if is_primary else p,
                         "p_adjusted": p if is_primary else math.nan})
    return pd.DataFrame(rows)


TASKS = {task: ("triage", ("macro_f1", "accuracy"), "macro_f1")
         for task in ("provider_triage", "urgency_triage")}


def test_table_has_a_row_per_task_and_metric_and_the_p_values_of_dpo():
    metrics = {
        ("m", task, 0, method): {"accuracy": acc, "macro_f1": f1}
        for task in TASKS
        for method, acc, f1 in (("base", 0.2, 0.1), ("sft", 0.5, 0.45),
                                ("sft_matched", 0.52, 0.5), ("dpo", 0.6, 0.58))
    }
    stats = {("m", "provider_triage"): stats_rows(0.0001, 0.02),
             ("m", "urgency_triage"): stats_rows(0.5, 0.3)}
    table = wide_table(long_table(metrics, stats, TASKS))
    assert list(table.columns) == ["task", "family", "metric", "role", "m base", "m sft",
                                   "m sft_matched", "m dpo", "m P dpo vs sft_matched",
                                   "m P dpo vs sft"]
    assert table[["task", "metric", "role"]].values.tolist() == [
        ["provider_triage", "macro_f1", "primary"], ["provider_triage", "accuracy", "secondary"],
        ["urgency_triage", "macro_f1", "primary"], ["urgency_triage", "accuracy", "secondary"]]
    # The primary row prints the adjusted P, a secondary row the plain one.
    assert table.loc[0, "m P dpo vs sft_matched"] == 0.0001
    assert table.loc[1, "m P dpo vs sft_matched"] == 0.0001  # secondary: p_value as given
    markdown = to_markdown(long_table(metrics, stats, TASKS), p_note(6, 0.05))
    assert ("| provider_triage | triage | macro_f1 * | 0.10 | 0.45 | 0.50 | 0.58 | <.001 | .020 |"
            in markdown)
    assert "| urgency_triage | triage | accuracy | 20% | 50% | 52% | 60% | .50 | .30 |" in markdown
    assert "Bonferroni-adjusted over the experiment's 6 primary hypotheses" in markdown
    assert "99.2% interval" in markdown


def test_over_seeds_cells_are_mean_and_sd_with_one_p_over_all_seeds():
    tasks = {"t": ("triage", ("macro_f1",), "macro_f1")}
    metrics = {("m", "t", 0, "base"): {"macro_f1": 0.1, "n": 40}}
    for seed, sft, dpo in ((0, 0.40, 0.50), (1, 0.44, 0.60), (2, 0.48, 0.55)):
        metrics[("m", "t", seed, "sft")] = {"macro_f1": sft, "n": 40}
        metrics[("m", "t", seed, "dpo")] = {"macro_f1": dpo, "n": 40, "macro_f1_ci": [0.4, 0.7]}
    stats = {("m", "t"): stats_rows(0.004, 0.03)[lambda t: t["comparison"] != "sft_matched_vs_dpo"]}
    table = wide_table(long_table(metrics, stats, tasks))
    assert list(table.columns) == ["task", "family", "metric", "role", "m base", "m base sd",
                                   "m sft", "m sft sd", "m dpo", "m dpo sd", "m P dpo vs sft"]
    row = table.iloc[0]
    assert row["m sft"] == pytest.approx(0.44)
    assert row["m sft sd"] == pytest.approx(0.04)  # sample SD of 0.40, 0.44, 0.48
    assert pd.isna(row["m base sd"])  # base runs once
    markdown = to_markdown(long_table(metrics, stats, tasks))
    assert "| t | triage | macro_f1 * | 0.10 | 0.44 ± 0.04 | 0.55 ± 0.05 | .030 |" in markdown
    by_seed = per_seed_table(metrics, tasks)
    assert len(by_seed) == 7
    assert by_seed.query("seed == 1 and method == 'dpo'")[["value", "ci_low", "ci_high"]] \
        .values.tolist() == [[0.6, 0.4, 0.7]]


def verdicts():
    return pd.DataFrame([{"task": "t", "model": "m", "metric": "accuracy",
                          "comparison": "sft_matched_vs_dpo", "diff": 0.08, "ci_low": -0.04,
                          "ci_high": 0.2, "ci_level": 0.975, "p_adjusted": 0.4, "margin": 0.05,
                          "verdict": "inconclusive", "detectable": 0.17, "items_needed": 1200,
                          "units_to_reach_level": 8}])


def test_the_verdict_table_says_what_decides():
    header, rows = verdict_cells(verdicts())
    assert header[:4] == ["task", "model", "primary metric", "DPO against"]
    assert rows == [["t", "m", "accuracy", "matched control", "8%", "-4% to 20% (97.5%)", ".40",
                     "±5%", "inconclusive", "17%", "1,200"]]


def test_the_report_page_opens_on_the_verdicts_then_the_table_and_costs():
    metrics = {("m", "t", 0, method): {"accuracy": v}
               for method, v in (("base", 0.1), ("sft", 0.45), ("sft_matched", 0.5),
                                 ("dpo", 0.58))}
    frame = long_table(metrics, {("m", "t"): stats_rows(0.0001, 0.2, "accuracy")},
                       {"t": ("triage", ("accuracy",), "accuracy")})
    costs = pd.DataFrame([{"model": "m", "task": "t", "extra_flops_ratio": 0.8,
                           "extra_accelerator_ratio": float("nan"), "extra_cpu_ratio": 0.9,
                           "extra_wall_ratio": 1.0, "pipeline_flops_ratio": 1.8,
                           "matched_flops_ratio": 1.01, "tuning_flops_ratio": 0.0}])
    page = to_html(frame, verdicts(), "<ul><li>the recommendations</li></ul>", costs, "a note")
    assert page.index("The verdict per task and model") < page.index("the recommendations") \
        < page.index("Every method on the evaluated items") < page.index("whole extra cost")
    assert ("<tr><td>t</td><td>triage</td><td>accuracy *</td><td>10%</td><td>45%</td>"
            "<td>50%</td><td>58%</td><td>&lt;.001</td><td>.20</td></tr>") in page
    assert "<td>m</td><td>t</td><td>0.80x</td><td>n/a</td><td>0.90x</td><td>1.00x</td>" \
        "<td>1.80x</td><td>1.01x</td><td>0.00x</td>" in page
    assert "<p>a note</p>" in page


def test_every_rendering_comes_from_the_long_frame():
    metrics = {("m", "t", seed, method): {"accuracy": v}
               for seed, method, v in ((0, "base", 0.2), (0, "sft", 0.5), (0, "dpo", 0.6),
                                       (1, "sft", 0.7), (1, "dpo", 0.8))}
    stats = {("m", "t"): stats_rows(0.01, 0.5, "accuracy")}
    frame = long_table(metrics, stats, {"t": ("triage", ("accuracy",), "accuracy")})
    assert list(frame.columns) == list(LONG_COLUMNS)
    assert frame[["method", "seed", "statistic", "value"]].astype(object).where(
        frame[["method", "seed", "statistic", "value"]].notna(), None).values.tolist() == [
        ["base", 0, "value", 0.2], ["sft", 0, "value", 0.5], ["sft", 1, "value", 0.7],
        ["dpo", 0, "value", 0.6], ["dpo", 1, "value", 0.8],
        ["sft_matched_vs_dpo", None, "p", 0.01], ["sft_vs_dpo", None, "p", 0.5]]
    edited = frame.copy()
    edited.loc[(edited["method"] == "sft") & (edited["seed"] == 1), "value"] = 0.9
    assert wide_table(edited).loc[0, "m sft"] == pytest.approx(0.7)
    assert "| 70% ± 28% |" in to_markdown(edited)
