import math
import xml.etree.ElementTree as ET

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from sftdpo.figures import (
    FIGURE_FORMATS,
    confusion_counts,
    dpo_vs_sft_p,
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
    paths = plot_method_bars(bar_metrics(), "accuracy", "urgency_triage",
                             {"model-a": 0.0004, "model-b": 0.0312}, out)
    assert paths == [out.with_suffix(".png"), out.with_suffix(".svg")]
    text = check_outputs(out)
    for expected in ("urgency_triage", "Base", "SFT", "DPO", "model-a", "model-b",
                     "P(Holm) <.001", "P(Holm) = .031", "90%", "55%", "Accuracy (%)",
                     "n = 40"):
        assert expected in text, expected


def test_method_bars_skip_missing_p_and_methods(tmp_path):
    metrics = bar_metrics()
    del metrics[("model-b", "dpo")]
    out = tmp_path / "bars"
    plot_method_bars(metrics, "accuracy", "t", {"model-a": None, "model-b": 0.2}, out)
    text = check_outputs(out)
    # no DPO bar for model-b, no P value for model-a: no annotation at all
    assert "P(Holm) =" not in text and "P(Holm) <" not in text and "P(Holm) >" not in text
    plot_method_bars(metrics, "accuracy", "t", {"model-a": math.nan}, out)
    assert "P(Holm) =" not in check_outputs(out)


def test_likert_and_f1_axes(tmp_path):
    likert = {("m", method): metric_entry(30, likert=(v, v - 0.3, v + 0.3))
              for method, v in (("base", 1.8), ("sft", 3.25), ("dpo", 4.1))}
    plot_method_bars(likert, "likert", "discharge_summary", {"m": 0.995}, tmp_path / "likert")
    text = check_outputs(tmp_path / "likert")
    assert "Likert grade (1-5)" in text and "3.25" in text and "P(Holm) >.99" in text
    f1 = {("m", method): metric_entry(30, macro_f1=(v, v - 0.1, v + 0.1))
          for method, v in (("base", 0.12), ("sft", 0.5), ("dpo", 0.58))}
    plot_method_bars(f1, "macro_f1", "t", {"m": 0.5}, tmp_path / "f1")
    text = check_outputs(tmp_path / "f1")
    assert "Macro F1" in text and "0.58" in text and "P(Holm) = .50" in text


def test_over_seeds_bars_are_means_with_sd_dots_and_the_p_over_all_seeds(tmp_path):
    per_seed = {"base": [0.2], "sft": [0.4, 0.5, 0.6], "dpo": [0.5, 0.5, 0.8]}
    metrics = {("m", method): over_seeds([{"accuracy": v, "n": 40} for v in values], "accuracy")
               for method, values in per_seed.items()}
    assert metrics[("m", "sft")] == {"accuracy": pytest.approx(0.5),
                                     "accuracy_seeds": [0.4, 0.5, 0.6], "n": 40}
    assert metrics[("m", "base")] == {"accuracy": 0.2, "n": 40}
    plot_method_bars(metrics, "accuracy", "t", {"m": 0.03}, tmp_path / "seeds")
    text = check_outputs(tmp_path / "seeds")
    for expected in ("mean over seeds, error bars: ±1 SD, dots: seeds",
                     "P(Holm): DPO vs SFT, one test over all seeds", "P(Holm) = .030", "60%",
                     "50%", "20%"):
        assert expected in text, expected


def test_output_is_deterministic(tmp_path):
    for name in ("one", "two"):
        plot_method_bars(bar_metrics(), "accuracy", "t", {"model-a": 0.01}, tmp_path / name)
    for fmt in FIGURE_FORMATS:
        assert (tmp_path / f"one.{fmt}").read_bytes() == (tmp_path / f"two.{fmt}").read_bytes()


def test_dpo_vs_sft_p_reads_the_holm_adjusted_p_of_the_stats_table():
    stats = pd.DataFrame([
        {"comparison": "base_vs_sft", "metric": "accuracy", "p_value": 0.5, "p_adjusted": 1.0},
        {"comparison": "sft_vs_dpo", "metric": "accuracy", "p_value": 0.02, "p_adjusted": 0.04},
        {"comparison": "sft_vs_dpo", "metric": "macro_f1", "p_value": 0.3,
         "p_adjusted": math.nan},
    ])
    assert dpo_vs_sft_p(stats, "accuracy") == 0.04
    assert dpo_vs_sft_p(stats, "macro_f1") is None
    assert dpo_vs_sft_p(stats, "rouge_l") is None


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
