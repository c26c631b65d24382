import math
import xml.etree.ElementTree as ET

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from sftdpo.figures import (
    FIGURE_FORMATS,
    comparison_brackets,
    confusion_counts,
    over_seeds,
    plot_confusion_matrices,
    plot_method_bars,
    plot_training_curves,
)


def svg_text(path) -> str:
    """All text in an SVG (entities decoded), one string."""
    return " ".join("".join(element.itertext()) for element in ET.parse(path).getroot().iter())


def check_outputs(out_stem) -> str:
    """Both files exist, the PNG is a plausible non-blank image; returns the SVG's text."""
    png, svg = out_stem.with_suffix(".png"), out_stem.with_suffix(".svg")
    assert png.is_file() and svg.is_file()
    image = mpimg.imread(png)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 400
    assert image[..., :3].std() > 0.01  # not a blank canvas
    return svg_text(svg)


def metric_entry(n, **values):
    entry = {"n": n}
    for metric, (value, low, high) in values.items():
        entry[metric] = value
        entry[f"{metric}_ci"] = [low, high]
    return entry


def dpo_vs_sft(text):
    """One bracket, DPO against SFT, with ``text`` over it."""
    return [("sft", "dpo", text)]


def bar_metrics():
    return {
        ("model-a", "base"): metric_entry(40, accuracy=(0.2, 0.1, 0.3)),
        ("model-a", "sft"): metric_entry(40, accuracy=(0.55, 0.4, 0.7)),
        ("model-a", "dpo"): metric_entry(40, accuracy=(0.9, 0.8, 1.0)),
        ("model-b", "base"): metric_entry(40, accuracy=(0.35, 0.2, 0.5)),
        ("model-b", "sft"): metric_entry(40, accuracy=(0.6, 0.45, 0.75)),
        ("model-b", "dpo"): metric_entry(40, accuracy=(0.62, 0.47, 0.77)),
    }


def test_figure_formats():
    assert FIGURE_FORMATS == ("png", "svg")


def test_method_bars_show_task_methods_values_and_p(tmp_path):
    out = tmp_path / "bars" / "triage_accuracy"
    metrics = bar_metrics() | {("model-a", "sft_matched"): metric_entry(40, accuracy=(0.6, 0.45,
                                                                                    0.75))}
    paths = plot_method_bars(metrics, "accuracy", "urgency_triage",
                             {"model-a": [("sft_matched", "dpo", "P(adj.) <.001"),
                                          ("sft", "dpo", "P = .004")],
                              "model-b": dpo_vs_sft("P = .031")}, out)
    assert paths == [out.with_suffix(".png"), out.with_suffix(".svg")]
    text = check_outputs(out)
    for expected in ("urgency_triage", "Base", "SFT", "DPO", "SFT, matched compute", "model-a",
                     "model-b", "P(adj.) <.001", "P = .004", "P = .031", "90%", "55%",
                     "Accuracy (%)", "n = 40"):
        assert expected in text, expected


def test_method_bars_skip_missing_p_and_methods(tmp_path):
    metrics = bar_metrics()
    del metrics[("model-b", "dpo")]
    out = tmp_path / "bars"
    plot_method_bars(metrics, "accuracy", "t", {"model-b": dpo_vs_sft("P = .20")}, out)
    text = check_outputs(out)
    # no DPO bar for model-b, no bracket for model-a: no annotation at all
    assert "P = " not in text
    plot_method_bars(metrics, "accuracy", "t", {"model-a": [("sft_matched", "dpo", "P = .1")]},
                     out)
    assert "P = " not in check_outputs(out)  # model-a has no matched control bar


def test_likert_and_f1_axes(tmp_path):
    likert = {("m", method): metric_entry(30, likert=(v, v - 0.3, v + 0.3))
              for method, v in (("base", 1.8), ("sft", 3.25), ("dpo", 4.1))}
    plot_method_bars(likert, "likert", "discharge_summary", {"m": dpo_vs_sft("P >.99")},
                     tmp_path / "likert")
    text = check_outputs(tmp_path / "likert")
    assert "Likert grade (1-5)" in text and "3.25" in text and "P >.99" in text
    f1 = {("m", method): metric_entry(30, macro_f1=(v, v - 0.1, v + 0.1))
          for method, v in (("base", 0.12), ("sft", 0.5), ("dpo", 0.58))}
    plot_method_bars(f1, "macro_f1", "t", {"m": dpo_vs_sft("P = .50")}, tmp_path / "f1")
    text = check_outputs(tmp_path / "f1")
    assert "Macro F1" in text and "0.58" in text and "P = .50" in text


def test_over_seeds_bars_are_means_with_sd_dots_and_the_p_over_all_seeds(tmp_path):
    per_seed = {"base": [0.2], "sft": [0.4, 0.5, 0.6], "dpo": [0.5, 0.5, 0.8]}
    metrics = {("m", method): over_seeds([{"accuracy": v, "n": 40} for v in values], "accuracy")
               for method, values in per_seed.items()}
    assert metrics[("m", "sft")] == {"accuracy": pytest.approx(0.5),
                                     "accuracy_seeds": [0.4, 0.5, 0.6], "n": 40}
    assert metrics[("m", "base")] == {"accuracy": 0.2, "n": 40}
    plot_method_bars(metrics, "accuracy", "t", {"m": dpo_vs_sft("P = .030")},
                     tmp_path / "seeds")
    text = check_outputs(tmp_path / "seeds")
    for expected in ("mean over seeds, error bars: ±1 SD, dots: seeds",
                     "one paired test over all seeds", "P = .030", "60%", "50%", "20%"):
        assert expected in text, expected


def test_output_is_deterministic(tmp_path):
    for name in ("one", "two"):
        plot_method_bars(bar_metrics(), "accuracy", "t", {"model-a": dpo_vs_sft("P = .010")},
                         tmp_path / name)
    for fmt in FIGURE_FORMATS:
        assert (tmp_path / f"one.{fmt}").read_bytes() == (tmp_path / f"two.{fmt}").read_bytes()


def test_brackets_print_the_p_the_table_prints():
    stats = pd.DataFrame([
        {"comparison": "base_vs_sft", "metric": "accuracy", "role": "secondary",
         "p_value": 0.5, "p_adjusted": math.nan},
        {"comparison": "sft_matched_vs_dpo", "metric": "accuracy", "role": "primary",
         "p_value": 0.002, "p_adjusted": 0.012},
        {"comparison": "sft_vs_dpo", "metric": "accuracy", "role": "secondary",
         "p_value": 0.02, "p_adjusted": math.nan},
        {"comparison": "sft_matched_vs_dpo", "metric": "macro_f1", "role": "secondary",
         "p_value": 0.3, "p_adjusted": math.nan},
    ])
    assert comparison_brackets(stats, "accuracy") == [("sft_matched", "dpo", "P(adj.) = .012"),
                                                      ("sft", "dpo", "P = .020")]
    assert comparison_brackets(stats, "macro_f1") == [("sft_matched", "dpo", "P = .30")]
    assert comparison_brackets(stats, "rouge_l") == []


LABELS = ["emergent", "urgent", "non-urgent"]


def record(i, reference, parsed):
    return {"id": f"x-{i:05d}", "prediction": str(parsed), "parsed": parsed,
            "reference": reference, "score": int(parsed == reference)}


def records_from(pairs):
    return [record(i, ref, parsed) for i, (ref, parsed) in enumerate(pairs)]


def test_confusion_matrices_count_by_hand_with_unparsed_column(tmp_path):
    base = records_from([("emergent", None), ("emergent", "urgent"), ("urgent", None),
                         ("non-urgent", "non-urgent"), ("non-urgent", None),
                         ("urgent", "emergent")])
    sft = records_from([("emergent", "emergent"), ("emergent", "emergent"),
                        ("urgent", "urgent"), ("non-urgent", "urgent"),
                        ("non-urgent", "non-urgent"), ("urgent", None)])
    dpo = records_from([("emergent", "emergent")] * 2 + [("urgent", "urgent")] * 2
                       + [("non-urgent", "non-urgent")] * 2)
    out = tmp_path / "cm"
    counts = plot_confusion_matrices({"dpo": dpo, "base": base, "sft": sft}, LABELS,
                                     "urgency_triage model-a", out)
    assert list(counts) == ["base", "sft", "dpo"]
    #                 emergent urgent non-urgent unparsed
    expected_base = [[0, 1, 0, 1],
                     [1, 0, 0, 1],
                     [0, 0, 1, 1]]
    expected_sft = [[2, 0, 0, 0],
                    [0, 1, 0, 1],
                    [0, 1, 1, 0]]
    np.testing.assert_array_equal(counts["base"], expected_base)
    np.testing.assert_array_equal(counts["sft"], expected_sft)
    np.testing.assert_array_equal(counts["dpo"], np.diag([2, 2, 2]) @ np.eye(3, 4, dtype=int))
    text = check_outputs(out)
    for expected in ("urgency_triage model-a", "Base", "SFT", "DPO", "unparsed", "non-urgent",
                     "Reference", "Predicted", "accuracy 17%", "accuracy 67%", "accuracy 100%"):
        assert expected in text, expected


def test_confusion_counts_empty_and_invalid():
    assert confusion_counts([], LABELS).shape == (3, 4)
    assert confusion_counts([], LABELS).sum() == 0
    with pytest.raises(ValueError, match="not in"):
        confusion_counts(records_from([("urgent", "maybe")]), LABELS)


def sft_log(with_eval=True):
    log = [{"loss": 2.0 / step, "step": step, "epoch": step / 4} for step in range(1, 9)]
    if with_eval:
        log.insert(4, {"eval_loss": 0.6, "step": 4, "epoch": 1.0})
        log.append({"eval_loss": 0.4, "step": 8, "epoch": 2.0})
    log.append({"train_runtime": 12.0, "train_loss": 0.8, "step": 8, "epoch": 2.0})
    return log


def dpo_log():
    return [{"loss": 0.69 - 0.02 * step, "rewards/margins": 0.05 * step, "rewards/chosen": 0.0,
             "rewards/rejected": -0.05 * step, "rewards/accuracies": 0.5, "step": step,
             "epoch": step / 6} for step in range(1, 7)]


def test_training_curves_plot_sft_and_dpo_series(tmp_path):
    out = tmp_path / "curves"
    series = plot_training_curves(sft_log(), dpo_log(), "urgency_triage model-a", out)
    np.testing.assert_array_equal(series["sft_loss"][0], np.arange(1, 9))
    np.testing.assert_allclose(series["sft_eval_loss"][1], [0.6, 0.4])
    np.testing.assert_allclose(series["dpo_margin"][1], 0.05 * np.arange(1, 7))
    assert len(series["dpo_loss"][0]) == 6 and len(series["dpo_eval_loss"][0]) == 0
    text = check_outputs(out)
    for expected in ("urgency_triage model-a", "SFT", "DPO", "Step", "Loss", "epoch 1",
                     "loss (validation)", "Reward margin (chosen - rejected)"):
        assert expected in text, expected


def test_the_matched_control_continues_the_sft_curve(tmp_path):
    matched = [{"loss": 0.5 - 0.01 * step, "step": step} for step in range(1, 5)]
    series = plot_training_curves(sft_log(), dpo_log(), "t", tmp_path / "m", matched)
    np.testing.assert_array_equal(series["matched_loss"][0], np.arange(9, 13))
    assert "loss (matched control, train)" in check_outputs(tmp_path / "m")


def test_training_curves_cope_with_missing_keys_and_empty_logs(tmp_path):
    series = plot_training_curves(sft_log(with_eval=False), [], "t", tmp_path / "a")
    assert len(series["sft_eval_loss"][0]) == 0 and len(series["dpo_loss"][0]) == 0
    text = check_outputs(tmp_path / "a")
    assert "no DPO log entries" in text and "validation" not in text
    no_margin = [{"loss": 0.7, "step": 1}, {"loss": math.nan, "step": 2}, {"epoch": 1.0}]
    series = plot_training_curves([], no_margin, "t", tmp_path / "b")
    np.testing.assert_array_equal(series["dpo_loss"][0], [1])
    text = check_outputs(tmp_path / "b")
    assert "no SFT log entries" in text and "Reward margin" not in text
    plot_training_curves([], [], "t", tmp_path / "c")
    assert "no SFT log entries" in check_outputs(tmp_path / "c")


def test_the_forest_plot_shows_every_task_in_margins_with_its_verdict_and_cost(tmp_path):
    from sftdpo.forest import plot_forest

    verdicts = pd.DataFrame([
        {"model": "m", "task": "urgency", "metric": "macro_f1", "comparison":
         "sft_matched_vs_dpo", "margin": 0.05, "diff": 0.1, "ci_low": -0.02, "ci_high": 0.22,
         "ci_level": 1 - 0.05 / 2, "verdict": "inconclusive", "dpo_minus_sft": 0.12,
         "dpo_minus_sft_ci_low": 0.01, "dpo_minus_sft_ci_high": 0.23, "extra_flops_ratio": 0.79},
        {"model": "m", "task": "summaries", "metric": "likert", "comparison":
         "sft_matched_vs_dpo", "margin": 0.1, "diff": 0.0, "ci_low": -3.0, "ci_high": 3.0,
         "ci_level": 1 - 0.05 / 2, "verdict": "inconclusive", "dpo_minus_sft": math.nan,
         "dpo_minus_sft_ci_low": math.nan, "dpo_minus_sft_ci_high": math.nan,
         "extra_flops_ratio": 1.2},
        {"model": "m", "task": "triage", "metric": "macro_f1", "comparison":
         "sft_matched_vs_dpo", "margin": 0.05, "diff": -0.48, "ci_low": -1.01, "ci_high": 0.04,
         "ci_level": 1 - 0.05 / 2, "verdict": "inconclusive", "dpo_minus_sft": math.nan,
         "dpo_minus_sft_ci_low": math.nan, "dpo_minus_sft_ci_high": math.nan,
         "extra_flops_ratio": 0.82},
    ])
    plot_forest(verdicts, tmp_path / "forest")
    text = check_outputs(tmp_path / "forest")
    for expected in ("urgency", "macro_f1 (margin 0.05)", "likert (margin 0.10)", "inconclusive",
                     "extra cost 0.79x SFT", "DPO minus the matched control (97.5% CI, decides)",
                     "DPO minus SFT (95% CI, secondary)", "minimum worthwhile difference",
                     # -0.48 is 9.6 margins, past the axis's reach of 8: its value is written.
                     "-9.6"):
        assert expected in text, expected
    with pytest.raises(ValueError, match="no verdicts"):
        plot_forest(verdicts.iloc[:0], tmp_path / "empty")
