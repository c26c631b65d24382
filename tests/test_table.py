import pandas as pd
import pytest

from sftdpo.table import (
    LONG_COLUMNS,
    format_p,
    format_value,
    long_table,
    per_seed_table,
    to_html,
    to_markdown,
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


def stats_rows(p_accuracy, p_f1):
    """A stats table whose Holm-adjusted P values are the given ones (the unadjusted ones,
    which the table does not print, a third of them)."""
    rows = []
    for comparison in ("base_vs_sft", "sft_vs_dpo", "base_vs_dpo"):
        for metric, p in (("accuracy", p_accuracy), ("macro_f1", p_f1)):
            rows.append({"comparison": comparison, "metric": metric, "p_value": p / 3,
                         "p_adjusted": p})
    return pd.DataFrame(rows)


def summary_table(metrics, stats, tasks, pooled=None):
    """The CSV's numbers, as the summary rule renders them from the long frame."""
    return wide_table(long_table(metrics, stats, tasks, pooled))


def test_table_has_a_row_per_task_and_metric_and_p_of_dpo_vs_sft():
    metrics = {
        ("m", task, 0, method): {"accuracy": acc, "macro_f1": f1}
        for task in ("provider_triage", "urgency_triage")
        for method, acc, f1 in (("base", 0.2, 0.1), ("sft", 0.5, 0.45), ("dpo", 0.6, 0.58))
    }
    stats = {("m", "provider_triage", 0): stats_rows(0.02, 0.0001),
             ("m", "urgency_triage", 0): stats_rows(0.5, 0.3)}
    tasks = {task: ("triage", ("macro_f1", "accuracy"))
             for task in ("provider_triage", "urgency_triage")}
    table = summary_table(metrics, stats, tasks)
    assert list(table.columns) == ["task", "family", "metric", "m base", "m sft", "m dpo",
                                   "m P(Holm) dpo vs sft"]
    assert table[["task", "metric"]].values.tolist() == [
        ["provider_triage", "macro_f1"], ["provider_triage", "accuracy"],
        ["urgency_triage", "macro_f1"], ["urgency_triage", "accuracy"]]
    assert table.loc[0, "m P(Holm) dpo vs sft"] == 0.0001
    markdown = to_markdown(long_table(metrics, stats, tasks))
    assert "| provider_triage | triage | macro_f1 | 0.10 | 0.45 | 0.58 | <.001 |" in markdown
    assert "| urgency_triage | triage | accuracy | 20% | 50% | 60% | .50 |" in markdown


def test_over_seeds_cells_are_mean_and_sd_with_a_p_per_seed_and_one_over_all():
    tasks = {"t": ("triage", ("macro_f1",))}
    metrics = {("m", "t", 0, "base"): {"macro_f1": 0.1, "n": 40}}
    for seed, sft, dpo in ((0, 0.40, 0.50), (1, 0.44, 0.60), (2, 0.48, 0.55)):
        metrics[("m", "t", seed, "sft")] = {"macro_f1": sft, "n": 40}
        metrics[("m", "t", seed, "dpo")] = {"macro_f1": dpo, "n": 40, "macro_f1_ci": [0.4, 0.7]}
    stats = {("m", "t", seed): stats_rows(0.5, p) for seed, p in ((0, 0.03), (1, 0.2), (2, 0.0005))}
    pooled = {("m", "t"): stats_rows(0.4, 0.004)}
    with pytest.raises(ValueError, match="several seeds need the pooled stats"):
        long_table(metrics, stats, tasks)
    table = summary_table(metrics, stats, tasks, pooled)
    assert list(table.columns) == ["task", "family", "metric", "m base", "m base sd", "m sft",
                                   "m sft sd", "m dpo", "m dpo sd", "m P(Holm) dpo vs sft seed0",
                                   "m P(Holm) dpo vs sft seed1", "m P(Holm) dpo vs sft seed2",
                                   "m P(Holm) dpo vs sft all seeds"]
    row = table.iloc[0]
    assert row["m sft"] == pytest.approx(0.44)
    assert row["m sft sd"] == pytest.approx(0.04)  # sample SD of 0.40, 0.44, 0.48
    assert row["m dpo sd"] == pytest.approx(0.05)
    assert pd.isna(row["m base sd"])  # base runs once
    assert row["m P(Holm) dpo vs sft all seeds"] == 0.004
    markdown = to_markdown(long_table(metrics, stats, tasks, pooled))
    assert ("| m base | m sft | m dpo | m P(Holm) dpo vs sft per seed | m P(Holm) dpo vs sft "
            "all seeds |") in markdown
    assert ("| t | triage | macro_f1 | 0.10 | 0.44 ± 0.04 | 0.55 ± 0.05 | .030 / .20 / <.001 "
            "| .004 |") in markdown
    assert "P all seeds is one test over every seed" in markdown
    by_seed = per_seed_table(metrics, tasks)
    assert len(by_seed) == 7
    assert by_seed.query("seed == 1 and method == 'dpo'")[["value", "ci_low", "ci_high"]] \
        .values.tolist() == [[0.6, 0.4, 0.7]]


def test_the_report_page_holds_the_table_recommendations_and_costs():
    metrics = {("m", "t", 0, method): {"macro_f1": v}
               for method, v in (("base", 0.1), ("sft", 0.45), ("dpo", 0.58))}
    frame = long_table(metrics, {("m", "t", 0): stats_rows(0.5, 0.0001)},
                       {"t": ("triage", ("macro_f1",))})
    costs = pd.DataFrame([{"model": "m", "task": "t", "flops": 2.3, "wall_seconds": 2.5,
                           "accelerator_seconds": float("nan"), "cpu_seconds": 2.4,
                           "tokens": 2.0}])
    page = to_html(frame, "<ul><li>the recommendations</li></ul>", costs)
    assert ("<tr><td>t</td><td>triage</td><td>macro_f1</td><td>0.10</td><td>0.45</td>"
            "<td>0.58</td><td>&lt;.001</td></tr>") in page
    assert "<th>m P(Holm) dpo vs sft</th>" in page and "Holm-adjusted over the three" in page
    assert "<ul><li>the recommendations</li></ul>" in page
    assert "<td>m</td><td>t</td><td>2.30x</td><td>n/a</td><td>2.40x</td><td>2.50x</td>" \
        "<td>2.00x</td>" in page


def test_every_rendering_comes_from_the_long_frame():
    metrics = {("m", "t", seed, method): {"accuracy": v}
               for seed, method, v in ((0, "base", 0.2), (0, "sft", 0.5), (0, "dpo", 0.6),
                                       (1, "sft", 0.7), (1, "dpo", 0.8))}
    stats = {("m", "t", 0): stats_rows(0.04, 0.5), ("m", "t", 1): stats_rows(0.3, 0.5)}
    frame = long_table(metrics, stats, {"t": ("triage", ("accuracy",))},
                       {("m", "t"): stats_rows(0.01, 0.5)})
    assert list(frame.columns) == list(LONG_COLUMNS)
    assert frame[["method", "seed", "statistic", "value"]].astype(object).where(
        frame[["method", "seed", "statistic", "value"]].notna(), None).values.tolist() == [
        ["base", 0, "value", 0.2], ["sft", 0, "value", 0.5], ["sft", 1, "value", 0.7],
        ["dpo", 0, "value", 0.6], ["dpo", 1, "value", 0.8],
        ["sft_vs_dpo", 0, "p_holm", 0.04], ["sft_vs_dpo", 1, "p_holm", 0.3],
        ["sft_vs_dpo", None, "p_holm", 0.01]]
    edited = frame.copy()
    edited.loc[(edited["method"] == "sft") & (edited["seed"] == 1), "value"] = 0.9
    assert wide_table(edited).loc[0, "m sft"] == pytest.approx(0.7)
    assert "| 70% ± 28% |" in to_markdown(edited)
    assert "<td>70% ± 28%</td>" in to_html(edited, "", pd.DataFrame(columns=["model", "task"]))
