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

Over several training seeds, :func:`compare_pooled` adds one test of each comparison over all
seeds (the items are the same test items in every seed; only training differs):

* accuracy and the failure rates: the Cochran-Mantel-Haenszel test of statsmodels'
  ``StratifiedTable.test_null_odds(correction=True)``, each item of each seed a stratum (its
  2x2 table: method a / b by right / wrong). This is McNemar's test stratified by seed: for
  matched pairs the CMH statistic is McNemar's (|B - C| - 1)^2 / (B + C) on the discordant
  counts summed over seeds (tests/test_pooled_stats.py checks both). Asymptotic (chi-square),
  not exact as the per-seed test.
* F1, ROUGE-L and grades: paired approximate randomisation (``scipy.stats.permutation_test``)
  of the mean over seeds of the per-seed difference, where a permutation swaps an item's two
  methods in every seed at once (the item, not the item-seed, is the exchangeable unit).
  Grades are therefore compared by the mean grade here, not Wilcoxon's ranks.

The pooled CI is the percentile bootstrap of the same mean difference, items resampled (in
every seed together). Pooled p values are Holm-adjusted over the comparisons, per metric.

The P and the CI of a difference come from different procedures and may disagree near the
5% level: the P is Holm-adjusted over the comparisons of a model and task while the CI is a
plain 95% interval, and the bootstrap resamples items (how the difference would vary on other
test items) where the test holds the items fixed and asks whether the two methods'
answers are exchangeable (McNemar reads the discordant items only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable, mcnemar
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
# The pooled table: the same columns and the number of seeds pooled.
POOLED_COLUMNS = (*COLUMNS, "n_seeds")
POOLED_TESTS = {"mcnemar_exact": "cmh_stratified_mcnemar"}
POOLED_RANDOMIZATION = "pooled_approximate_randomization"


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
    _holm_per_metric(table, metrics)
    return table.loc[:, list(COLUMNS)].reset_index(drop=True)


def _holm_per_metric(table: pd.DataFrame, metrics: Sequence[str]) -> None:
    table["p_adjusted"] = np.nan
    for metric in metrics:
        mask = table["metric"] == metric
        table.loc[mask, "p_adjusted"] = holm(table.loc[mask, "p_value"])


# ------------------------------------------------------------------ pooled over seeds


def stratified_mcnemar(flags_a: np.ndarray, flags_b: np.ndarray) -> tuple[float, float]:
    """(chi-square, p value) of McNemar's test stratified by seed: statsmodels' CMH test with
    continuity correction over one 2x2 stratum per item and seed (rows method a / b, columns
    right / wrong). ``flags_*``: booleans, shape (seeds, items). No discordant item: p = 1."""
    flags_a = np.asarray(flags_a, dtype=bool).ravel()
    flags_b = np.asarray(flags_b, dtype=bool).ravel()
    if not np.any(flags_a != flags_b):
        return 0.0, 1.0
    strata = np.stack([[flags_a, ~flags_a], [flags_b, ~flags_b]]).astype(np.float64)
    result = StratifiedTable(strata).test_null_odds(correction=True)
    return float(result.statistic), float(result.pvalue)


def _column_scores(metric: str, aligned: list[tuple[list[dict], list[dict]]],
                   labels: Sequence[str] | None):
    """``score(columns)``: each seed's value of ``metric`` over the chosen columns of
    [a's items | b's items] (column i is item i of a, column n + i item i of b), shape
    (seeds, *columns.shape[:-1]). Choosing columns is how a permutation swaps an item's
    methods and how the bootstrap resamples items, in every seed at once."""
    if metric in ITEM_METRICS:
        stack = np.stack([np.concatenate([item_values(a, metric), item_values(b, metric)])
                          for a, b in aligned])
        return lambda columns: stack[:, columns].mean(axis=-1)
    ref = record_indices(aligned[0][0], labels)[0]
    stack = np.stack([np.concatenate([record_indices(a, labels)[1], record_indices(b, labels)[1]])
                      for a, b in aligned])
    references = np.concatenate([ref, ref])
    return lambda columns: f1_from_indices(references[columns], stack[:, columns], len(labels),
                                           F1_AVERAGES[metric])


def _compare_pooled_metric(metric: str, aligned: list[tuple[list[dict], list[dict]]],
                           labels: Sequence[str] | None, n_resamples: int, seed: int) -> dict:
    n = len(aligned[0][0])
    score = _column_scores(metric, aligned, labels)
    items = np.arange(n)

    def diff(columns_a, columns_b, axis=-1):
        return np.mean(score(columns_b) - score(columns_a), axis=0)

    a, b = float(np.mean(score(items))), float(np.mean(score(items + n)))
    test = ITEM_METRICS[metric][1] if metric in ITEM_METRICS else None
    if test == "mcnemar_exact":
        flags_a = np.stack([item_values(records_a, metric) == 1 for records_a, _ in aligned])
        flags_b = np.stack([item_values(records_b, metric) == 1 for _, records_b in aligned])
        statistic, p_value = stratified_mcnemar(flags_a, flags_b)
        test = POOLED_TESTS[test]
    else:
        statistic, test = b - a, POOLED_RANDOMIZATION
        p_value = approximate_randomization((items, items + n), diff, n_resamples, seed)
    ci_low, ci_high = paired_bootstrap_ci(
        (items,), lambda columns, axis=-1: diff(columns, columns + n), n_resamples, seed)
    return {"a": a, "b": b, "test": test, "statistic": statistic, "p_value": p_value,
            "ci_low": ci_low, "ci_high": ci_high}


def _aligned_over_seeds(records_by_seed: Mapping[int, Mapping[str, list[dict]]], a: str,
                        b: str) -> list[tuple[list[dict], list[dict]]]:
    """Each seed's (a, b) records of the shared items; every seed must hold the same items."""
    seeds = sorted(records_by_seed)
    aligned = [align(records_by_seed[s][a], records_by_seed[s][b],
                     (f"{a} (seed {s})", f"{b} (seed {s})")) for s in seeds]
    ids = [[record["id"] for record in records_a] for records_a, _ in aligned]
    for s, seed_ids in zip(seeds, ids, strict=True):
        if seed_ids != ids[0]:
            raise ValueError(f"seeds {seeds[0]} and {s} do not hold the same test items for "
                             f"{a} vs {b}: a pooled test needs the same items in every seed")
    return aligned


def compare_pooled(
    records_by_seed: Mapping[int, Mapping[str, list[dict]]],
    metrics: Sequence[str],
    labels: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    comparisons: Sequence[tuple[str, str]] = COMPARISONS,
) -> pd.DataFrame:
    """One test of every comparison x metric over all training seeds (module docstring),
    Holm-adjusted per metric. ``records_by_seed``: per seed, the records of each method (the
    base model's are the same in every seed). Columns: ``POOLED_COLUMNS``; ``a``, ``b`` and
    ``diff`` are means over the seeds."""
    if not records_by_seed:
        raise ValueError("no seeds to pool")
    for training_seed, records in records_by_seed.items():
        missing = sorted({m for pair in comparisons for m in pair} - set(records))
        if missing:
            raise ValueError(f"seed {training_seed}: no records for methods {missing}")
    rows = []
    for a, b in comparisons:
        aligned = _aligned_over_seeds(records_by_seed, a, b)
        sources = [list(zip(by_answer_source(ra, metrics), by_answer_source(rb, metrics),
                            strict=True)) for ra, rb in aligned]
        for index, ((_, computed, reported), _) in enumerate(sources[0]):
            views = [(per_seed[index][0][0], per_seed[index][1][0]) for per_seed in sources]
            for metric, as_reported in zip(computed, reported, strict=True):
                row = _compare_pooled_metric(metric, views, labels, n_resamples, seed)
                rows.append({"comparison": comparison_name(a, b), "metric": as_reported,
                             "diff": row["b"] - row["a"], "n_seeds": len(aligned), **row})
    table = pd.DataFrame(rows)
    _holm_per_metric(table, metrics)
    return table.loc[:, list(POOLED_COLUMNS)].reset_index(drop=True)
