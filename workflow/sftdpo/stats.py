"""Paired comparisons of two methods (base, SFT, DPO) on the same test items.

Items are matched by ``id``. For each comparison ``a`` vs ``b`` and each metric:

* accuracy: exact McNemar test on the discordant pairs (one method right, the other wrong),
  ``statsmodels.stats.contingency_tables.mcnemar(exact=True)``; its statistic is the smaller
  discordant count. With no discordant pairs there is no evidence of a difference: p = 1.
* macro_f1: paired approximate randomisation, ``scipy.stats.permutation_test`` with
  ``permutation_type="samples"``: within each item the two methods' predictions are swapped
  at random, the gold references stay fixed; statistic macro_F1(b) - macro_F1(a).
* parse_failure_rate: exact McNemar on parsed / unparsed.

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
    ITEM_FLAGS,
    METRICS,
    metric_functions,
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
    records_a: Sequence[dict],
    records_b: Sequence[dict],
    labels: Sequence[str],
    names: tuple[str, str] = ("a", "b"),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference, prediction of a, prediction of b) index arrays over the shared items.

    Items are put in the order of their ids (as strings), so results do not depend on the
    order of the records. Raises ValueError naming the ids one side lacks, and when the two
    sides disagree on an item's reference.
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
    ref_a, pred_a = record_indices([by_a[i] for i in ids], labels)
    ref_b, pred_b = record_indices([by_b[i] for i in ids], labels)
    if not np.array_equal(ref_a, ref_b):
        bad = [i for i, x, y in zip(ids, ref_a, ref_b, strict=True) if x != y]
        raise ValueError(f"{names[0]} and {names[1]} disagree on the reference of ids {bad}")
    return ref_a, pred_a, pred_b


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


def _compare_pair(
    ref: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    n_labels: int,
    n_resamples: int,
    seed: int,
) -> list[dict]:
    """One row per metric for a vs b (p values not yet adjusted)."""
    rows = []
    for name, metric in metric_functions(n_labels).items():

        def diff(ref, pa, pb, axis=-1, metric=metric):
            return metric(ref, pb) - metric(ref, pa)

        a, b = float(metric(ref, pred_a)), float(metric(ref, pred_b))
        if name in ITEM_FLAGS:
            flag = ITEM_FLAGS[name]
            test = "mcnemar_exact"
            statistic, p_value = mcnemar_exact(flag(ref, pred_a), flag(ref, pred_b))
        else:
            # Identical predictions make every swap a no-op: all null statistics are 0 and
            # scipy returns p = 1 (two-sided p is clipped at 1).
            test = "approximate_randomization"
            statistic = b - a
            p_value = float(
                stats.permutation_test(
                    (pred_a, pred_b),
                    lambda pa, pb, axis=-1, diff=diff: diff(ref, pa, pb),
                    permutation_type="samples",
                    vectorized=True,
                    n_resamples=n_resamples,
                    alternative="two-sided",
                    axis=-1,
                    random_state=np.random.default_rng(seed),
                ).pvalue
            )
        ci_low, ci_high = paired_bootstrap_ci((ref, pred_a, pred_b), diff, n_resamples, seed)
        rows.append({"metric": name, "a": a, "b": b, "diff": b - a, "ci_low": ci_low,
                     "ci_high": ci_high, "test": test, "statistic": statistic,
                     "p_value": p_value})
    return rows


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p values (statsmodels ``multipletests(method="holm")``)."""
    return multipletests(np.asarray(p_values, dtype=float), method="holm")[1]


def compare_methods(
    records_by_method: dict[str, list[dict]],
    labels: Sequence[str],
    n_resamples: int = 10_000,
    seed: int = 0,
    comparisons: Sequence[tuple[str, str]] = COMPARISONS,
) -> pd.DataFrame:
    """Paired tests of every comparison x metric, Holm-adjusted per metric.

    Returns one row per comparison and metric with the columns in ``COLUMNS``. Every method
    named in ``comparisons`` must be in ``records_by_method`` (others are ignored).
    """
    missing = sorted({m for pair in comparisons for m in pair} - set(records_by_method))
    if missing:
        raise ValueError(f"no records for methods {missing}")
    rows = []
    for a, b in comparisons:
        ref, pred_a, pred_b = align(records_by_method[a], records_by_method[b], labels, (a, b))
        for row in _compare_pair(ref, pred_a, pred_b, len(labels), n_resamples, seed):
            rows.append({"comparison": comparison_name(a, b), **row})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = np.nan
    for metric in METRICS:
        mask = table["metric"] == metric
        table.loc[mask, "p_adjusted"] = holm(table.loc[mask, "p_value"])
    return table.loc[:, list(COLUMNS)].reset_index(drop=True)
