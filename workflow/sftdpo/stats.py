"""Paired comparisons of two methods (base, SFT, DPO) on the same test items.

Items are matched by ``id``. For each comparison ``a`` vs ``b`` and each metric:

* accuracy and parse_failure_rate: exact McNemar test on the discordant pairs (one method
  right, the other wrong), ``statsmodels.stats.contingency_tables.mcnemar(exact=True)``; its
  statistic is the smaller discordant count. With no discordant pairs there is no evidence of
  a difference: p = 1.
* likert (summary grades 1-5): Wilcoxon signed-rank test, ``scipy.stats.wilcoxon`` with
  ``zero_method="wilcox"`` (items graded alike by both methods are left out, as in
  Wilcoxon's original test); with no item graded differently, p = 1.
* macro_f1 (and micro_f1, weighted_f1): paired approximate randomisation,
  ``scipy.stats.permutation_test`` with ``permutation_type="samples"``: within each item the
  two methods' predictions are swapped at random, the gold references stay fixed; statistic
  F1(b) - F1(a).
* rouge_l: the same paired approximate randomisation on the per-item scores; statistic
  mean(b) - mean(a).

Every row carries both metric values, ``diff`` = b - a and a 95% paired percentile bootstrap
CI of the difference (items resampled, both methods together). p values are Holm-adjusted
across the comparisons of one call (one model and task), separately per metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from sftdpo.metrics import (
    F1_AVERAGES,
    ITEM_METRICS,
    by_answer_source,
    f1_from_indices,
    item_values,
    paired_bootstrap_ci,
    record_indices,
)

COMPARISONS = (("base", "sft"), ("sft", "dpo"), ("base", "dpo"))
COLUMNS = (
    "comparison",
    "metric",
    "a",
    "b",
    "diff",
    "ci_low",
    "ci_high",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
)


def comparison_name(a: str, b: str) -> str:
    return f"{a}_vs_{b}"


def _by_id(records: Sequence[dict], method: str) -> dict:
    by_id: dict = {}
    for record in records:
        if record["id"] in by_id:
            raise ValueError(f"{method}: duplicate id {record['id']!r}")
        by_id[record["id"]] = record
    return by_id


def align(
    records_a: Sequence[dict], records_b: Sequence[dict], names: tuple[str, str] = ("a", "b")
) -> tuple[list[dict], list[dict]]:
    """The two methods' records of the shared items, both in the order of their ids.

    Ordering by id (as strings) makes results independent of the order of the records.
    Raises ValueError naming the ids one side lacks, and when the two sides disagree on an
    item's reference.
    """
    by_a, by_b = _by_id(records_a, names[0]), _by_id(records_b, names[1])
    only_a = sorted(set(by_a) - set(by_b), key=str)
    only_b = sorted(set(by_b) - set(by_a), key=str)
    if only_a or only_b:
        raise ValueError(
            f"{names[0]} and {names[1]} do not cover the same items: "
            f"ids missing from {names[1]}: {only_a}; ids missing from {names[0]}: {only_b}"
        )
    ids = sorted(by_a, key=str)
    if not ids:
        raise ValueError(f"{names[0]} and {names[1]} have no items")
    bad = [i for i in ids if by_a[i]["reference"] != by_b[i]["reference"]]
    if bad:
        raise ValueError(f"{names[0]} and {names[1]} disagree on the reference of ids {bad}")
    return [by_a[i] for i in ids], [by_b[i] for i in ids]


def mcnemar_exact(flag_a: np.ndarray, flag_b: np.ndarray) -> tuple[float, float]:
    """(statistic, p value) of the exact McNemar test of paired booleans.

    The statistic is the smaller discordant count (as statsmodels reports it); with no
    discordant pairs the p value is 1.0.
    """
    flag_a, flag_b = np.asarray(flag_a, dtype=bool), np.asarray(flag_b, dtype=bool)
    table = np.array(
        [
            [np.sum(flag_a & flag_b), np.sum(flag_a & ~flag_b)],
            [np.sum(~flag_a & flag_b), np.sum(~flag_a & ~flag_b)],
        ]
    )
    if table[0, 1] + table[1, 0] == 0:
        return 0.0, 1.0
    result = mcnemar(table, exact=True)
    return float(result.statistic), float(result.pvalue)


def wilcoxon_signed_rank(values_a: np.ndarray, values_b: np.ndarray) -> tuple[float, float]:
    """(statistic, p value) of the two-sided Wilcoxon signed-rank test of b - a, zero
    differences dropped; p = 1 when every difference is zero."""
    if np.all(values_a == values_b):
        return 0.0, 1.0
    result = stats.wilcoxon(values_b, values_a, zero_method="wilcox", alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def approximate_randomization(data: tuple[np.ndarray, np.ndarray], statistic,
                              n_resamples: int, seed: int) -> float:
    """Two-sided p value of ``statistic(a, b)`` with a and b swapped at random within items.

    Identical inputs make every swap a no-op: all null statistics are 0 and scipy returns
    p = 1 (two-sided p is clipped at 1).
    """
    return float(stats.permutation_test(
        data, statistic, permutation_type="samples", vectorized=True,
        n_resamples=n_resamples, alternative="two-sided", axis=-1,
        random_state=np.random.default_rng(seed),
    ).pvalue)


def _compare_item_metric(metric: str, a_records: list[dict], b_records: list[dict],
                         n_resamples: int, seed: int) -> dict:
    values_a, values_b = item_values(a_records, metric), item_values(b_records, metric)

    def diff(va, vb, axis=-1):
        return np.mean(vb, axis=axis) - np.mean(va, axis=axis)

    test = ITEM_METRICS[metric][1]
    if test == "mcnemar_exact":
        statistic, p_value = mcnemar_exact(values_a == 1, values_b == 1)
    elif test == "wilcoxon_signed_rank":
        statistic, p_value = wilcoxon_signed_rank(values_a, values_b)
    else:
        statistic = float(diff(values_a, values_b))
        p_value = approximate_randomization((values_a, values_b), diff, n_resamples, seed)
    ci_low, ci_high = paired_bootstrap_ci((values_a, values_b), diff, n_resamples, seed)
    return {"a": float(values_a.mean()), "b": float(values_b.mean()), "test": test,
            "statistic": statistic, "p_value": p_value, "ci_low": ci_low, "ci_high": ci_high}


def _compare_f1(metric: str, a_records: list[dict], b_records: list[dict],
                labels: Sequence[str], n_resamples: int, seed: int) -> dict:
    ref, pred_a = record_indices(a_records, labels)
    _, pred_b = record_indices(b_records, labels)

    def f1(ref, pred):
        return f1_from_indices(ref, pred, len(labels), F1_AVERAGES[metric])

    def diff(ref, pa, pb, axis=-1):
        return f1(ref, pb) - f1(ref, pa)

    a, b = float(f1(ref, pred_a)), float(f1(ref, pred_b))
    p_value = approximate_randomization(
        (pred_a, pred_b), lambda pa, pb, axis=-1: diff(ref, pa, pb), n_resamples, seed)
    ci_low, ci_high = paired_bootstrap_ci((ref, pred_a, pred_b), diff, n_resamples, seed)
    return {"a": a, "b": b, "test": "approximate_randomization", "statistic": b - a,
            "p_value": p_value, "ci_low": ci_low, "ci_high": ci_high}


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p values (statsmodels ``multipletests(method="holm")``)."""
    return multipletests(np.asarray(p_values, dtype=float), method="holm")[1]


def compare_methods(
    records_by_method: dict[str, list[dict]],
    metrics: Sequence[str],
    labels: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    comparisons: Sequence[tuple[str, str]] = COMPARISONS,
) -> pd.DataFrame:
    """Paired tests of every comparison x metric, Holm-adjusted per metric.

    Returns one row per comparison and metric with the columns in ``COLUMNS``. Every method
    named in ``comparisons`` must be in ``records_by_method`` (others are ignored).
    ``labels`` (the task's label set) is needed for the F1 metrics only.
    """
    missing = sorted({m for pair in comparisons for m in pair} - set(records_by_method))
    if missing:
        raise ValueError(f"no records for methods {missing}")
    rows = []
    for a, b in comparisons:
        aligned = align(records_by_method[a], records_by_method[b], (a, b))
        # Likelihood metrics compare the likelihood answers by the same tests.
        sources = zip(by_answer_source(aligned[0], metrics), by_answer_source(aligned[1], metrics),
                      strict=True)
        for (records_a, computed, reported), (records_b, _, _) in sources:
            for metric, as_reported in zip(computed, reported, strict=True):
                if metric in ITEM_METRICS:
                    row = _compare_item_metric(metric, records_a, records_b, n_resamples, seed)
                else:
                    row = _compare_f1(metric, records_a, records_b, labels, n_resamples, seed)
                rows.append({"comparison": comparison_name(a, b), "metric": as_reported,
                             "diff": row["b"] - row["a"], **row})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = np.nan
    for metric in metrics:
        mask = table["metric"] == metric
        table.loc[mask, "p_adjusted"] = holm(table.loc[mask, "p_value"])
    return table.loc[:, list(COLUMNS)].reset_index(drop=True)
