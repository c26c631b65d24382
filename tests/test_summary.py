import pandas as pd
import pytest

from sftdpo.summary import format_p, format_value, summary_table, to_markdown


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
    rows = []
    for comparison in ("base_vs_sft", "sft_vs_dpo", "base_vs_dpo"):
        for metric, p in (("accuracy", p_accuracy), ("macro_f1", p_f1)):
            rows.append({"comparison": comparison, "metric": metric, "p_value": p})
    return pd.DataFrame(rows)


def test_table_has_a_row_per_task_and_metric_and_p_of_dpo_vs_sft():
    metrics = {
        ("m", task, method): {"accuracy": acc, "macro_f1": f1}
        for task in ("provider_triage", "urgency_triage")
        for method, acc, f1 in (("base", 0.2, 0.1), ("sft", 0.5, 0.45), ("dpo", 0.6, 0.58))
    }
    stats = {("m", "provider_triage"): stats_rows(0.02, 0.0001),
             ("m", "urgency_triage"): stats_rows(0.5, 0.3)}
    tasks = {task: ("triage", ("macro_f1", "accuracy"))
             for task in ("provider_triage", "urgency_triage")}
    table = summary_table(metrics, stats, tasks)
    assert list(table.columns) == ["task", "family", "metric", "m base", "m sft", "m dpo",
                                   "m P dpo vs sft"]
    assert table[["task", "metric"]].values.tolist() == [
        ["provider_triage", "macro_f1"], ["provider_triage", "accuracy"],
        ["urgency_triage", "macro_f1"], ["urgency_triage", "accuracy"]]
    assert table.loc[0, "m P dpo vs sft"] == 0.0001
    markdown = to_markdown(table)
    assert "| provider_triage | triage | macro_f1 | 0.10 | 0.45 | 0.58 | <.001 |" in markdown
    assert "| urgency_triage | triage | accuracy | 20% | 50% | 60% | .50 |" in markdown
