"""Paired comparisons (sftdpo.stats): the sign-flip test over units agrees with statsmodels'
exact McNemar, scipy's permutation test and a full enumeration; its interval agrees with its
P; seeds are not replicates; groups are the unit where the split keeps them apart."""

import itertools

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from sftdpo.metrics import f1_from_indices
from sftdpo.stats import (
    COLUMNS,
    EXACT_TEST,
    Paired,
    compare_methods,
    compare_pair,
    exact_sign_flip,
)


def paired(metric, a, b, units=None, **kwargs):
    """One seed's answers: item values (as floats), or label indices with ``reference``."""
    dtype = np.int64 if "reference" in kwargs else np.float64
    a, b = np.atleast_2d(np.asarray(a, dtype=dtype)), np.atleast_2d(np.asarray(b, dtype=dtype))
    units = np.arange(a.shape[-1]) if units is None else np.asarray(units)
    return Paired(metric, a, b, units, **kwargs)


def records(values, units=None, reference=None, parsed=None):
    """Prediction records of an accuracy task: score 1/0 per item."""
    return [{"id": f"i{i:03d}", "reference": "x" if reference is None else reference[i],
             "parsed": None if parsed is None else parsed[i], "score": int(v),
             **({} if units is None else {"unit": f"g{units[i]}"})}
            for i, v in enumerate(values)]


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_with_items_as_units_is_the_exact_mcnemar_test(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random(70) < 0.5, rng.random(70) < 0.6
    row = compare_pair(paired("accuracy", a, b), 0.05, 0.8, 1000, 0)
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    assert row["test"] == EXACT_TEST
    assert row["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-12)


def test_grades_use_the_exact_sign_flip_test_not_wilcoxons_normal_approximation():
    # 5 items a grade better, 45 graded alike: only 2 of the 32 sign patterns are as extreme.
    a = np.full(50, 3.0)
    b = a.copy()
    b[:5] += 1
    row = compare_pair(paired("likert", a, b), 0.05, 0.8, 1000, 0)
    assert row["p_value"] == pytest.approx(0.0625)
    assert sps.wilcoxon(b, a, method="approx").pvalue < 0.05  # what the old test said
    assert row["ci_low"] <= 0 <= row["ci_high"]


def test_the_exact_grade_test_agrees_with_scipy_and_a_full_enumeration():
    rng = np.random.default_rng(3)
    a = rng.integers(1, 6, 12).astype(float)
    b = np.clip(a + rng.integers(-2, 3, 12), 1, 5)
    row = compare_pair(paired("likert", a, b), 0.05, 0.8, 1000, 0)
    scipy_p = sps.permutation_test((a, b), lambda x, y, axis: np.mean(y - x, axis=axis),
                                   permutation_type="samples", n_resamples=np.inf,
                                   vectorized=True).pvalue
    d = b - a
    observed = abs(d.sum())
    extreme = [abs(np.dot(signs, d)) >= observed - 1e-12
               for signs in itertools.product((-1, 1), repeat=len(d))]
    assert row["p_value"] == pytest.approx(scipy_p, abs=1e-12)
    assert row["p_value"] == pytest.approx(np.mean(extreme), abs=1e-12)


def test_f1_by_enumeration_agrees_with_a_full_enumeration_over_units():
    rng = np.random.default_rng(4)
    reference = rng.integers(0, 3, 24)
    a = np.where(rng.random(24) < 0.5, reference, rng.integers(0, 3, 24))
    b = np.where(rng.random(24) < 0.7, reference, rng.integers(0, 3, 24))
    units = np.repeat(np.arange(8), 3)
    data = paired("macro_f1", a, b, units, reference=reference, n_labels=3)
    row = compare_pair(data, 0.05, 0.8, 10_000, 0)
    assert row["test"] == "enumerated_sign_flip"

    def f1(pred):
        return f1_from_indices(reference, pred, 3)

    observed = f1(b) - f1(a)
    values = []
    for signs in itertools.product((False, True), repeat=8):
        swap = np.asarray(signs)[units]
        values.append(f1(np.where(swap, a, b)) - f1(np.where(swap, b, a)))
    assert row["diff"] == pytest.approx(observed)
    assert row["p_value"] == pytest.approx(np.mean(np.abs(values) >= abs(observed) - 1e-12))


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_the_interval_excludes_zero_exactly_when_p_is_at_most_alpha(metric):
    rng = np.random.default_rng(5)
    for trial in range(60):
        n = int(rng.integers(8, 40))
        reference = rng.integers(0, 2, n)
        a = np.where(rng.random(n) < 0.5, reference, 1 - reference)
        b = np.where(rng.random(n) < rng.uniform(0.4, 0.95), reference, 1 - reference)
        units = rng.integers(0, max(2, n // 2), n)
        units = np.unique(units, return_inverse=True)[1]
        if metric == "accuracy":
            data = paired(metric, a == reference, b == reference, units)
        else:
            data = paired(metric, a, b, units, reference=reference, n_labels=2)
        for alpha in (0.05, 0.01):
            row = compare_pair(data, alpha, 0.8, 400, trial)
            excludes = row["ci_low"] > 0 or row["ci_high"] < 0
            assert excludes == (row["p_value"] <= alpha), (trial, alpha, row)


def by_seed(*seeds):
    """records_by_seed from (base, sft, dpo) score lists per seed."""
    return {s: {"base": records(base, units), "sft": records(sft, units),
                "dpo": records(dpo, units)} for s, (base, sft, dpo, units) in enumerate(seeds)}


def test_copying_a_seeds_predictions_changes_neither_p_nor_interval():
    rng = np.random.default_rng(6)
    n = 80
    units = np.repeat(np.arange(20), 4)
    base, sft, dpo = (rng.random(n) < p for p in (0.3, 0.5, 0.6))
    one = compare_methods(by_seed((base, sft, dpo, units)), ["accuracy"], n_resamples=2000)
    for k in (3, 5):
        copied = compare_methods(by_seed(*[(base, sft, dpo, units)] * k), ["accuracy"],
                                 n_resamples=2000)
        for column in ("diff", "p_value", "ci_low", "ci_high"):
            np.testing.assert_allclose(copied[column], one[column], rtol=1e-12)
        assert (copied["n_seeds"] == k).all()


def test_under_the_null_with_persistent_seeds_it_rejects_at_most_its_level():
    """Two methods that are the same, three training seeds whose answers persist from seed to
    seed with probability .95, items in groups that share their difficulty: the test over
    all seeds must reject a true null at most about 5% of the time at alpha .05 (the
    item-seed CMH test it replaces rejected about 21% here)."""
    rng = np.random.default_rng(7)
    n_items, n_groups, n_seeds, trials = 100, 25, 3, 400
    units = np.repeat(np.arange(n_groups), n_items // n_groups)
    rejections = 0
    for _ in range(trials):
        difficulty = rng.normal(0, 1, n_groups)[units] + rng.normal(0, 0.5, n_items)
        right = 1 / (1 + np.exp(difficulty))

        def seeds(first, right=right):
            answers = [first]
            for _ in range(n_seeds - 1):
                redraw = rng.random(n_items) > 0.95
                answers.append(np.where(redraw, rng.random(n_items) < right, answers[-1]))
            return np.stack(answers).astype(float)

        a = seeds(rng.random(n_items) < right)
        b = seeds(rng.random(n_items) < right)
        row = compare_pair(Paired("accuracy", a, b, units), 0.05, 0.8, 1000, 0)
        rejections += row["p_value"] <= 0.05
    assert rejections / trials <= 0.06


def test_groups_are_the_unit_where_the_split_keeps_them_apart():
    # Ten groups of ten items, each group all right or all wrong for a method: as items the
    # difference looks certain, as groups it cannot be told from chance.
    units = np.repeat(np.arange(10), 10)
    a = np.repeat([1, 0, 0, 1, 0, 0, 1, 0, 0, 0], 10)
    b = np.repeat([1, 1, 1, 1, 0, 1, 1, 0, 0, 1], 10)
    as_items = compare_pair(paired("accuracy", a, b), 0.05, 0.8, 1000, 0)
    as_groups = compare_pair(paired("accuracy", a, b, units), 0.05, 0.8, 1000, 0)
    assert as_items["p_value"] < 0.001
    assert as_groups["p_value"] == pytest.approx(2 / 2 ** 4)  # 4 discordant groups, all one way
    assert as_groups["ci_high"] - as_groups["ci_low"] > as_items["ci_high"] - as_items["ci_low"]
    assert (as_groups["n_units"], as_groups["n_items"]) == (10, 100)


def test_four_groups_cannot_reach_significance_and_say_how_wide_they_leave_it():
    units = np.repeat(np.arange(4), 10)
    a, b = np.zeros(40), np.ones(40)
    row = compare_pair(paired("accuracy", a, b, units), 0.05, 0.8, 1000, 0)
    assert row["p_value"] == pytest.approx(1 / 8)
    assert row["ci_low"] <= 0 and row["ci_high"] >= 2  # q is the largest |D*|: 1
    assert row["detectable"] == float("inf")  # no P below 1/8, whatever the difference
    assert compare_pair(paired("accuracy", a, b, units), 0.2, 0.8, 1000, 0)["detectable"] < 2


def test_the_primary_row_is_bonferroni_adjusted_with_its_interval_at_the_same_level():
    rng = np.random.default_rng(8)
    base, sft, dpo = (rng.random(120) < p for p in (0.3, 0.5, 0.62))
    table = compare_methods(by_seed((base, sft, dpo, None)), ["accuracy"],
                            primary=("sft_vs_dpo", "accuracy"), n_primary=6, n_resamples=500)
    assert list(table.columns) == list(COLUMNS)
    primary = table[table["role"] == "primary"].iloc[0]
    assert primary["comparison"] == "sft_vs_dpo"
    assert primary["p_adjusted"] == pytest.approx(min(1, 6 * primary["p_value"]))
    assert primary["ci_level"] == pytest.approx(1 - 0.05 / 6)
    secondary = table[table["role"] == "secondary"]
    assert secondary["p_adjusted"].isna().all() and (secondary["ci_level"] == 0.95).all()
    assert set(table["comparison"]) == {"base_vs_sft", "sft_vs_dpo", "base_vs_dpo"}


def test_a_primary_metric_the_task_does_not_report_is_an_error():
    rng = np.random.default_rng(9)
    base, sft, dpo = (rng.random(30) < 0.5 for _ in range(3))
    with pytest.raises(ValueError, match="primary metric likert"):
        compare_methods(by_seed((base, sft, dpo, None)), ["accuracy"],
                        primary=("sft_vs_dpo", "likert"))


def test_the_exact_null_is_a_distribution_symmetric_around_zero():
    null = exact_sign_flip(np.array([3, 1, 0, 2]), 4.0)
    assert null.weights.sum() == pytest.approx(1.0)
    assert np.allclose(np.sort(null.values), np.sort(-null.values))
    # The unit whose total is 0 carries no sign: 2 of the 8 patterns (all +, all -) reach 6.
    assert null.p_value(6 / 4) == pytest.approx(2 / 8)
    assert null.sd() == pytest.approx(np.sqrt(9 + 1 + 4) / 4)
