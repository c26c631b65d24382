"""Per-method metrics (sftdpo.metrics) and paired comparisons (sftdpo.stats)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar

from sftdpo.metrics import (
    METRICS_BY_KIND,
    UNPARSED,
    f1_from_indices,
    method_metrics,
    per_class_report,
    record_indices,
)
from sftdpo.stats import align, compare_methods

LABELS = ("A", "B", "C")
LABEL_METRICS = METRICS_BY_KIND["label"]


def compare_methods_labels(records_by_seed, labels, **kwargs):
    """compare_methods with the metrics of a label task."""
    return compare_methods(records_by_seed, LABEL_METRICS, labels, **kwargs)
FAST = 2000  # resamples where the exact count does not matter


def make(refs, preds, prefix="i"):
    """Records over ids i0, i1, ... from parallel lists of gold and parsed labels."""
    return [
        {"id": f"{prefix}{k}", "reference": r, "parsed": p, "score": int(p == r)}
        for k, (r, p) in enumerate(zip(refs, preds, strict=True))
    ]


def random_records(n, accuracy, failure, seed, labels=LABELS):
    gold = np.random.default_rng(12345).integers(0, len(labels), n)
    rng = np.random.default_rng(seed)
    refs, preds = [], []
    for g in gold:
        u = rng.random()
        if u < failure:
            pred = None
        elif u < failure + accuracy:
            pred = labels[g]
        else:
            pred = labels[rng.integers(0, len(labels))]
        refs.append(labels[g])
        preds.append(pred)
    return make(refs, preds)


# The small hand-computed case: 6 items, labels A, B, C.
#   item: 0  1  2     3  4  5
#   gold: A  A  A     B  B  C
#   pred: A  B  None  B  A  C
SMALL_REFS = ["A", "A", "A", "B", "B", "C"]
SMALL_PREDS = ["A", "B", None, "B", "A", "C"]


def sk_macro_f1(ref, pred, n_labels):
    return f1_score(ref, pred, labels=list(range(n_labels)), average="macro", zero_division=0)


# ---------------------------------------------------------------- metrics


def test_small_case_by_hand():
    m = method_metrics(make(SMALL_REFS, SMALL_PREDS), LABEL_METRICS, LABELS, n_resamples=FAST)
    # accuracy: items 0, 3, 5 correct -> 3/6
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(0.5)
    # parse failure: item 2 -> 1/6
    assert m["parse_failure_rate"] == pytest.approx(1 / 6)
    # F1 = 2 TP / (#predicted + #true):
    #   A: TP 1 (item 0), predicted A {0, 4} = 2, true A {0, 1, 2} = 3 -> 2/5 = 0.4
    #      (the unparsed item 2 is a missed A but no false positive anywhere)
    #   B: TP 1 (item 3), predicted B {1, 3} = 2, true B {3, 4} = 2 -> 2/4 = 0.5
    #   C: TP 1 (item 5), predicted 1, true 1 -> 1.0
    #   macro = (0.4 + 0.5 + 1.0) / 3 = 1.9 / 3
    assert m["macro_f1"] == pytest.approx(1.9 / 3)
    # a fourth label that never occurs still enters the average with F1 0: 1.9 / 4
    m4 = method_metrics(make(SMALL_REFS, SMALL_PREDS), LABEL_METRICS, (*LABELS, "D"),
                        n_resamples=FAST)
    assert m4["macro_f1"] == pytest.approx(1.9 / 4)
    for name in ("accuracy", "macro_f1", "parse_failure_rate"):
        low, high = m[f"{name}_ci"]
        assert np.isfinite([low, high]).all()
        assert 0.0 <= low <= m[name] <= high <= 1.0


def test_record_indices_and_unknown_labels():
    ref, pred = record_indices(make(SMALL_REFS, SMALL_PREDS), LABELS)
    assert ref.tolist() == [0, 0, 0, 1, 1, 2]
    assert pred.tolist() == [0, 1, UNPARSED, 1, 0, 2]
    with pytest.raises(ValueError, match="'Z'"):
        record_indices(make(["A"], ["Z"]), LABELS)
    with pytest.raises(ValueError, match="'Z'"):
        record_indices(make(["Z"], ["A"]), LABELS)


def test_macro_f1_matches_sklearn_on_small_case():
    ref, pred = record_indices(make(SMALL_REFS, SMALL_PREDS), LABELS)
    sentinel = ["<unparsed>" if p is None else p for p in SMALL_PREDS]
    expected = f1_score(
        SMALL_REFS, sentinel, labels=list(LABELS), average="macro", zero_division=0
    )
    assert f1_from_indices(ref, pred, 3) == pytest.approx(expected, abs=1e-12)


def test_macro_f1_matches_sklearn_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_labels = int(rng.integers(1, 7))
        n = int(rng.integers(1, 25))
        # refs drawn from a subset, so some labels are absent from the sample
        ref = rng.integers(0, max(1, n_labels - 1), n)
        pred = rng.integers(-1, n_labels, n)  # -1 = unparsed
        got = f1_from_indices(ref, pred, n_labels)
        assert got == pytest.approx(sk_macro_f1(ref, pred, n_labels), abs=1e-12)


def test_macro_f1_leading_axes_match_sklearn_per_row():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 4, 40)
    pred = rng.integers(-1, 4, (3, 5, 40))
    got = f1_from_indices(ref, pred, 4)
    assert got.shape == (3, 5)
    for i, j in itertools.product(range(3), range(5)):
        assert got[i, j] == pytest.approx(sk_macro_f1(ref, pred[i, j], 4), abs=1e-12)
    # both arguments with a resample axis
    refs = rng.integers(0, 4, (6, 40))
    got = f1_from_indices(refs, pred[0, :1], 4)
    expected = [sk_macro_f1(refs[i], pred[0, 0], 4) for i in range(6)]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_accuracy_ci_is_scipy_percentile_bootstrap():
    records = random_records(80, 0.6, 0.1, seed=3)
    ref, pred = record_indices(records, LABELS)
    m = method_metrics(records, LABEL_METRICS, LABELS, n_resamples=FAST, seed=7)
    expected = sps.bootstrap(
        ((ref == pred).astype(float),),
        np.mean,
        n_resamples=FAST,
        paired=True,
        method="percentile",
        random_state=np.random.default_rng(7),
    ).confidence_interval
    assert m["accuracy_ci"] == pytest.approx([expected.low, expected.high], abs=1e-12)
    assert m == method_metrics(records, LABEL_METRICS, LABELS, n_resamples=FAST, seed=7)


def test_metrics_degenerate_cases():
    # all correct: point intervals, no NaN (BCa would give NaN here)
    m = method_metrics(make(SMALL_REFS, SMALL_REFS), LABEL_METRICS, LABELS, n_resamples=FAST)
    assert (m["accuracy"], m["macro_f1"], m["parse_failure_rate"]) == (1.0, 1.0, 0.0)
    assert m["accuracy_ci"] == [1.0, 1.0]
    assert m["parse_failure_rate_ci"] == [0.0, 0.0]
    # all unparsed
    m = method_metrics(make(SMALL_REFS, [None] * 6), LABEL_METRICS, LABELS, n_resamples=FAST)
    assert (m["accuracy"], m["macro_f1"], m["parse_failure_rate"]) == (0.0, 0.0, 1.0)
    assert m["macro_f1_ci"] == [0.0, 0.0]
    # a single item
    m = method_metrics(make(["A"], ["A"]), LABEL_METRICS, LABELS, n_resamples=FAST)
    assert m["accuracy_ci"] == [1.0, 1.0]
    assert m["macro_f1"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        method_metrics([], LABEL_METRICS, LABELS)


def test_group_intervals_draw_a_groups_items_together():
    # Ten groups of eight items, each group all right or all wrong: resampled by group the
    # interval is that of 10 draws, not 80.
    records = [{**r, "unit": f"g{k // 8}"} for k, r in enumerate(
        make(["A"] * 80, ["A" if (k // 8) % 2 else "B" for k in range(80)]))]
    plain = [{key: v for key, v in r.items() if key != "unit"} for r in records]
    grouped = method_metrics(records, ("accuracy",), LABELS, n_resamples=FAST, seed=1)
    items = method_metrics(plain, ("accuracy",), LABELS, n_resamples=FAST, seed=1)
    assert grouped["accuracy"] == items["accuracy"] == 0.5
    width = {name: m["accuracy_ci"][1] - m["accuracy_ci"][0]
             for name, m in (("grouped", grouped), ("items", items))}
    assert width["grouped"] > 2 * width["items"]


# ---------------------------------------------------------------- stats


def one_seed(records_by_method):
    return {0: records_by_method}


def test_mcnemar_accuracy_by_hand():
    # 20 items, all gold A. Method a vs b:
    #   both right 6, a right & b wrong 2, a wrong & b right 8, both wrong 4
    pattern = [(1, 1)] * 6 + [(1, 0)] * 2 + [(0, 1)] * 8 + [(0, 0)] * 4
    refs = ["A"] * 20
    pa = ["A" if x else "B" for x, _ in pattern]
    pb = ["A" if y else "C" for _, y in pattern]
    recs = one_seed({"a": make(refs, pa), "b": make(refs, pb)})
    table = compare_methods_labels(recs, LABELS, n_resamples=FAST, comparisons=[("a", "b")])
    row = table.set_index("metric").loc["accuracy"]
    # exact McNemar = two-sided binomial test of 2 successes in 10 discordant pairs:
    #   p = 2 * (C(10,0) + C(10,1) + C(10,2)) / 2**10 = 2 * 56 / 1024 = 0.109375
    assert row["p_value"] == pytest.approx(0.109375, abs=1e-12)
    assert row["p_value"] == pytest.approx(sps.binomtest(2, 10, 0.5).pvalue, abs=1e-12)
    assert row["p_value"] == pytest.approx(mcnemar(np.array([[6, 2], [8, 4]]),
                                                   exact=True).pvalue, abs=1e-12)
    assert row["test"] == "exact_sign_flip"
    assert (row["a"], row["b"], row["diff"]) == pytest.approx((8 / 20, 14 / 20, 6 / 20))
    assert row["ci_low"] <= row["diff"] <= row["ci_high"]


def test_mcnemar_parse_failures_by_hand():
    # 12 items: a fails to parse on 5 where b parses, b fails on 1 where a parses,
    # both fail on 2, both parse on 4.
    pattern = [(1, 0)] * 5 + [(0, 1)] * 1 + [(1, 1)] * 2 + [(0, 0)] * 4
    refs = ["B"] * 12
    pa = [None if x else "B" for x, _ in pattern]
    pb = [None if y else "A" for _, y in pattern]
    table = compare_methods_labels(one_seed({"a": make(refs, pa), "b": make(refs, pb)}), LABELS,
                                   n_resamples=FAST, comparisons=[("a", "b")])
    row = table.set_index("metric").loc["parse_failure_rate"]
    # 1 of 6 discordant: p = 2 * (1 + 6) / 64 = 0.21875
    assert row["p_value"] == pytest.approx(0.21875, abs=1e-12)
    assert row["diff"] == pytest.approx(3 / 12 - 7 / 12)


@pytest.fixture(scope="module")
def three_methods():
    return {
        "base": random_records(120, 0.45, 0.2, seed=1),
        "sft": random_records(120, 0.7, 0.05, seed=2),
        "dpo": random_records(120, 0.75, 0.02, seed=3),
    }


def test_permutation_is_seeded_and_record_order_free(three_methods):
    first = compare_methods_labels(one_seed(three_methods), LABELS, n_resamples=FAST, seed=5)
    shuffled = {k: v[::-1] for k, v in three_methods.items()}
    pd.testing.assert_frame_equal(first, compare_methods_labels(one_seed(shuffled), LABELS,
                                                                n_resamples=FAST, seed=5))
    f1 = first.loc[first["metric"] == "macro_f1", "p_value"]
    assert ((f1 > 0) & (f1 <= 1)).all()
    assert set(first["comparison"]) == {"base_vs_sft", "sft_vs_dpo", "base_vs_dpo"}


def test_permutation_matches_full_enumeration():
    # 8 items -> 2**8 = 256 within-item swaps <= n_resamples, so scipy enumerates them
    # all; the p value must equal a brute-force enumeration scored with sklearn.
    refs = ["A", "A", "B", "B", "C", "C", "A", "B"]
    pa = ["A", "B", "B", None, "A", "C", "C", None]
    pb = ["A", "A", "B", "B", "C", "C", "A", "A"]
    table = compare_methods_labels(one_seed({"a": make(refs, pa), "b": make(refs, pb)}), LABELS,
                                   n_resamples=FAST, comparisons=[("a", "b")])
    row = table.set_index("metric").loc["macro_f1"]
    sentinel = [["-" if p is None else p for p in x] for x in (pa, pb)]

    def diff(xa, xb):
        f1 = [f1_score(refs, x, labels=list(LABELS), average="macro", zero_division=0)
              for x in (xa, xb)]
        return f1[1] - f1[0]

    observed = diff(*sentinel)
    assert row["statistic"] == pytest.approx(observed, abs=1e-12)
    null = []
    for swap in itertools.product([False, True], repeat=len(refs)):
        xa = [b if s else a for a, b, s in zip(*sentinel, swap, strict=True)]
        xb = [a if s else b for a, b, s in zip(*sentinel, swap, strict=True)]
        null.append(diff(xa, xb))
    p = np.mean(np.abs(null) >= abs(observed) - 1e-12)
    assert row["test"] == "enumerated_sign_flip"
    assert row["p_value"] == pytest.approx(p, abs=1e-12)


def test_identical_methods_give_p_one():
    records = random_records(60, 0.6, 0.1, seed=4)
    table = compare_methods_labels(one_seed({m: records for m in ("base", "sft", "dpo")}),
                                   LABELS, n_resamples=FAST)
    assert (table["p_value"] == 1.0).all()
    assert (table[["diff", "ci_low", "ci_high"]] == 0.0).all().all()


@pytest.mark.parametrize(
    "preds_a, preds_b",
    [
        (SMALL_REFS, SMALL_REFS),  # all correct for both
        (["B", "C", "B", "A", "C", "A"], ["C", "B", "C", "C", "A", "B"]),  # all wrong
        ([None] * 6, [None] * 6),  # nothing parsed by either
    ],
    ids=["all_correct", "all_wrong", "all_unparsed"],
)
def test_no_difference_edge_cases(preds_a, preds_b):
    table = compare_methods_labels(one_seed(
        {"base": make(SMALL_REFS, preds_a), "sft": make(SMALL_REFS, preds_b),
         "dpo": make(SMALL_REFS, preds_a)}), LABELS, n_resamples=FAST)
    acc_and_failure = table[table["metric"] != "macro_f1"]
    assert (acc_and_failure["p_value"] == 1.0).all()
    numbers = table[["a", "b", "diff", "ci_low", "ci_high", "statistic", "p_value", "se",
                     "detectable"]].to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    assert ((table["p_value"] > 0) & (table["p_value"] <= 1)).all()
    if preds_a == preds_b:
        assert (table["p_value"] == 1.0).all()


def test_one_method_never_parses():
    good = random_records(50, 0.8, 0.0, seed=8)
    dead = [{**r, "parsed": None, "score": 0} for r in good]
    table = compare_methods_labels(one_seed({"base": dead, "sft": good, "dpo": good}), LABELS,
                                   n_resamples=FAST).set_index(["comparison", "metric"])
    assert table.loc[("base_vs_sft", "parse_failure_rate"), "a"] == 1.0
    assert table.loc[("base_vs_sft", "macro_f1"), "a"] == 0.0
    assert table.loc[("base_vs_sft", "parse_failure_rate"), "p_value"] < 1e-9
    assert table.loc[("sft_vs_dpo", "macro_f1"), "p_value"] == 1.0


def test_mismatched_ids_raise():
    a = make(SMALL_REFS, SMALL_PREDS)
    b = make(SMALL_REFS, SMALL_PREDS)
    with pytest.raises(ValueError, match="i5"):
        align(a, b[:5])
    with pytest.raises(ValueError, match="extra"):
        align(a, [*b, {"id": "extra", "reference": "A", "parsed": "A", "score": 1}])
    with pytest.raises(ValueError, match="i3"):
        compare_methods_labels(one_seed({"base": a, "sft": b,
                                         "dpo": [r for r in b if r["id"] != "i3"]}),
                               LABELS, n_resamples=FAST)
    with pytest.raises(ValueError, match="duplicate"):
        align(a + a[:1], b)
    with pytest.raises(ValueError, match="no comparison"):
        compare_methods_labels(one_seed({"base": a}), LABELS)
    swapped = [{**r, "reference": "C"} if r["id"] == "i0" else r for r in b]
    with pytest.raises(ValueError, match="i0"):
        align(a, swapped)
    regrouped = [{**r, "unit": "g1"} if r["id"] == "i2" else r for r in b]
    with pytest.raises(ValueError, match="unit of ids"):
        align(a, regrouped)


def summary_records(grades, rouge, prefix="s"):
    """Summary records: Likert grade as score, ROUGE-L, None where the grade is 1 and empty."""
    return [{"id": f"{prefix}{k}", "reference": "ref", "parsed": None if g is None else "text",
             "score": 1 if g is None else g, "rouge_l": r}
            for k, (g, r) in enumerate(zip(grades, rouge, strict=True))]


def test_likert_uses_the_exact_sign_flip_test_as_scipy_enumerates_it():
    a = summary_records([3, 4, 2, 5, 3, 3, 1, 4, 2, 3], [0.2] * 10)
    b = summary_records([4, 4, 3, 5, 5, 2, 3, 5, 4, 4], [0.3] * 10)
    table = compare_methods(one_seed({"a": a, "b": b}), ("likert",), comparisons=[("a", "b")])
    row = table.iloc[0]
    ga = np.array([r["score"] for r in a], dtype=float)
    gb = np.array([r["score"] for r in b], dtype=float)
    expected = sps.permutation_test((ga, gb), lambda x, y, axis: np.mean(y - x, axis=axis),
                                    permutation_type="samples", n_resamples=np.inf,
                                    vectorized=True)
    assert row["test"] == "exact_sign_flip"
    assert row["p_value"] == pytest.approx(expected.pvalue, abs=1e-12)
    assert row["a"] == pytest.approx(3.0) and row["b"] == pytest.approx(3.9)
    assert row["diff"] == pytest.approx(0.9)
    assert row["ci_low"] <= 0.9 <= row["ci_high"]


def test_likert_identical_grades_give_p_one():
    a = summary_records([3, 4, 2], [0.1, 0.2, 0.3])
    table = compare_methods(one_seed({"a": a, "b": a}), ("likert",), comparisons=[("a", "b")])
    assert table.loc[0, "p_value"] == 1.0 and table.loc[0, "diff"] == 0.0


def test_rouge_randomization_matches_full_enumeration():
    ra = np.array([0.1, 0.4, 0.35, 0.2, 0.5, 0.3, 0.25, 0.6])
    rb = np.array([0.3, 0.45, 0.3, 0.4, 0.7, 0.35, 0.5, 0.65])
    a = summary_records([3] * 8, ra)
    b = summary_records([3] * 8, rb)
    table = compare_methods(one_seed({"a": a, "b": b}), ("rouge_l",), n_resamples=10_000,
                            comparisons=[("a", "b")])
    # Swapping a and b within an item flips the sign of its difference: 2^8 equally likely.
    d = rb - ra
    observed = abs(d.mean())
    flips = [abs((d * np.array(signs)).mean())
             for signs in itertools.product((1, -1), repeat=len(d))]
    exact = np.mean([f >= observed - 1e-12 for f in flips])
    assert table.loc[0, "p_value"] == pytest.approx(exact, abs=1e-9)
    assert table.loc[0, "test"] == "enumerated_sign_flip"


def test_summary_metrics_count_unparsed_summaries():
    records = summary_records([None, 5, 4, None], [0.0, 0.9, 0.7, 0.0])
    m = method_metrics(records, METRICS_BY_KIND["summary"], n_resamples=FAST)
    assert m["likert"] == pytest.approx((1 + 5 + 4 + 1) / 4)
    assert m["rouge_l"] == pytest.approx(0.4)
    assert m["parse_failure_rate"] == 0.5
    assert m["likert_ci"][0] <= m["likert"] <= m["likert_ci"][1]


@pytest.mark.parametrize("average", ["micro", "weighted"])
def test_micro_and_weighted_f1_match_sklearn(average):
    rng = np.random.default_rng(3)
    for _ in range(50):
        n_labels = int(rng.integers(2, 5))
        ref = rng.integers(0, n_labels, 30)
        pred = rng.integers(-1, n_labels, 30)
        expected = f1_score(ref, pred, labels=list(range(n_labels)), average=average,
                            zero_division=0)
        assert f1_from_indices(ref, pred, n_labels, average) == pytest.approx(expected,
                                                                           abs=1e-12)


def test_per_class_report_and_confusion_matrix_by_hand():
    report = per_class_report(make(SMALL_REFS, SMALL_PREDS), LABELS)
    # gold A: A, B, None; gold B: B, A; gold C: C
    assert report["confusion_matrix"]["columns"] == ["A", "B", "C", "unparsed"]
    assert report["confusion_matrix"]["counts"] == [[1, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 0]]
    a = report["per_class"]["A"]
    assert (a["precision"], a["recall"], a["support"]) == (0.5, pytest.approx(1 / 3), 3)
    assert a["f1"] == pytest.approx(0.4)
    assert report["per_class"]["C"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                        "support": 1}


def test_label_metrics_carry_micro_weighted_f1_and_per_class():
    m = method_metrics(make(SMALL_REFS, SMALL_PREDS), LABEL_METRICS, LABELS, n_resamples=FAST)
    ref = [0, 0, 0, 1, 1, 2]
    pred = [0, 1, -1, 1, 0, 2]
    for name, average in (("micro_f1", "micro"), ("weighted_f1", "weighted")):
        assert m[name] == pytest.approx(f1_score(ref, pred, labels=[0, 1, 2], average=average,
                                                 zero_division=0))
        assert m[f"{name}_ci"][0] <= m[name] <= m[f"{name}_ci"][1]
    assert set(m["per_class"]) == set(LABELS)
