"""Paired comparisons of methods on the same test items: a test and an interval that cannot
disagree, with the item, or its group, as the unit.

**Units.** Every prediction record carries ``unit``: its item's group (a template family, a
patient) where the split keeps groups apart, else the item itself. Units are what is
exchangeable. Items of one unit are not independent of each other, and the training seeds are
repeated measurements of the same units, never replicates: copying a seed's predictions
changes nothing here.

**Statistic.** For methods a and b, a metric M and the training seeds s = 1..S (the base model
trains nothing: its one run stands in every seed), D = mean over seeds of M(b_s) - M(a_s), on
the same items.

**Test.** If a and b are exchangeable within each unit, swapping their answers for every item
of a unit, in every seed at once, leaves the distribution of D unchanged: the sign-flip
permutation test over units. Two-sided P = P(|D*| >= |D|) over the sign vectors.

* Metrics that are the mean of an integer per-item value (accuracy, parse failures, the
  rubric's and the judge's grades): D = sum_c T_c / (n S), T_c a unit's integer total of b - a
  over its items and seeds, and the null distribution of sum_c (+-T_c) is computed exactly, a
  convolution over units. With one seed and items as units this is the exact McNemar test for
  accuracy (statsmodels' ``mcnemar(exact=True)``) and, for grades, the exact sign-flip test
  with ties (an item graded alike carries no sign), which ``scipy.stats.permutation_test``
  enumerates for small n (tests/test_stats.py checks both).
* F1 and ROUGE-L: ``scipy.stats.permutation_test`` over units (``permutation_type="samples"``),
  exact by enumeration where 2^units <= n_resamples, else over n_resamples random sign vectors
  (P = (k + 1) / (n_resamples + 1), as scipy counts).

**Interval.** The test inverted: [D - q, D + q], q the largest value of |D*| whose tail
probability P(|D*| >= q) exceeds the interval's alpha. So the interval excludes 0 exactly when
P <= alpha: a P and its interval never disagree. The inversion assumes a true shift moves the
null distribution without changing its spread; as the null's spread includes the observed
difference, the interval errs wide when the difference is large. With few units it is wide:
4 units (16 sign vectors) cannot give a P below 1/8, and then q is the largest |D*|.

**Multiplicity.** One primary hypothesis per model and task, declared before the run: the
primary comparison (DPO against the matched-compute control, or against SFT without one) on
the task's primary metric. Its P is Bonferroni-adjusted over the experiment's K primary
hypotheses (``p_adjusted`` = min(1, K P)) and its interval has level 1 - alpha / K, so over
all tasks and models the chance of any false claim is at most alpha, and the adjusted P and
the interval agree. Every other row is secondary: its P is not adjusted (``p_adjusted`` is
empty) and its interval has level 1 - alpha; they describe, they do not decide.

**Power.** ``se`` is the null distribution's standard deviation and ``detectable`` = q +
z_power se, the smallest true difference the test would find with probability ``power``
(normal approximation); :mod:`sftdpo.decision` turns it into the items a margin would need.
With fewer units than the level allows (the smallest P of C units is 2 / 2^C), no difference
is detectable: ``detectable`` is infinite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sftdpo.metrics import (
    F1_AVERAGES,
    ITEM_METRICS,
    by_answer_source,
    f1_from_indices,
    item_values,
    record_indices,
    unit_indices,
)

# Every comparison a stats table holds, (a, b) with difference b - a, where both methods ran.
COMPARISONS = (("base", "sft"), ("sft", "dpo"), ("sft_matched", "dpo"), ("sft", "sft_matched"),
               ("base", "dpo"))
COLUMNS = ("comparison", "metric", "role", "a", "b", "diff", "ci_low", "ci_high", "ci_level",
           "test", "statistic", "p_value", "p_adjusted", "se", "detectable", "n_items",
           "n_units", "unit", "n_seeds")
EXACT_TEST = "exact_sign_flip"
ENUMERATED_TEST = "enumerated_sign_flip"
SAMPLED_TEST = "sampled_sign_flip"


def comparison_name(a: str, b: str) -> str:
    return f"{a}_vs_{b}"


def primary_comparison(control: bool) -> tuple[str, str]:
    """DPO against the matched-compute control where it runs, else against SFT."""
    return ("sft_matched", "dpo") if control else ("sft", "dpo")


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
    item's reference or unit.
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
    for field in ("reference", "unit"):
        bad = [i for i in ids if by_a[i].get(field) != by_b[i].get(field)]
        if bad:
            raise ValueError(f"{names[0]} and {names[1]} disagree on the {field} of ids {bad}")
    return [by_a[i] for i in ids], [by_b[i] for i in ids]


@dataclass(frozen=True)
class NullDistribution:
    """The sign-flip distribution of D: its values with their probabilities (exact, or equal
    weights over ``draws`` random sign vectors, where P counts the observed one too)."""

    values: np.ndarray
    weights: np.ndarray
    draws: int | None = None

    def tail(self, threshold: np.ndarray | float) -> np.ndarray:
        """P(|D*| >= threshold), for each threshold."""
        size = np.abs(self.values)
        order = np.argsort(size)
        sorted_size = size[order]
        above = np.cumsum(self.weights[order][::-1])[::-1]
        above = above / above[0]  # the whole mass exactly 1, whatever the rounding
        threshold = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
        # A relative tolerance so that a value equal to the observed one up to rounding counts.
        first = np.searchsorted(sorted_size, threshold - 1e-9 * np.maximum(1.0, threshold))
        mass = np.append(above, 0.0)[first]
        if self.draws is None:
            return mass
        return (mass * self.draws + 1) / (self.draws + 1)

    def p_value(self, observed: float) -> float:
        return float(min(1.0, self.tail(abs(observed))[0]))

    def critical(self, alpha: float) -> float:
        """q: the largest |D*| (or 0) whose tail probability exceeds ``alpha``; the test
        rejects, and [D - q, D + q] excludes 0, exactly when |D| > q."""
        sizes = np.unique(np.append(np.abs(self.values), 0.0))
        kept = sizes[self.tail(sizes) > alpha]
        return float(kept.max())

    def sd(self) -> float:
        return float(np.sqrt(np.sum(self.weights * self.values ** 2)))


def exact_sign_flip(totals: np.ndarray, scale: float) -> NullDistribution:
    """The exact distribution of sum_c (+-totals_c) / scale over all 2^units sign vectors,
    for integer ``totals``: a convolution, one unit at a time."""
    totals = np.abs(np.asarray(totals, dtype=np.int64))
    span = int(totals.sum())
    mass = np.zeros(2 * span + 1)
    mass[span] = 1.0
    for total in totals[totals > 0]:
        mass = 0.5 * (np.roll(mass, total) + np.roll(mass, -total))
    support = np.flatnonzero(mass)
    return NullDistribution((support - span) / scale, mass[support])


def sampled_sign_flip(statistic, n_units: int, n_resamples: int,
                      seed: int) -> tuple[NullDistribution, bool]:
    """The null distribution of ``statistic(swapped)`` (``swapped``: booleans, shape (...,
    units), True where a unit's methods trade places), by ``scipy.stats.permutation_test``:
    every sign vector where 2^units <= n_resamples, else n_resamples random ones. Returns the
    distribution and whether it is exact."""
    sides = (np.arange(n_units), np.arange(n_units) + n_units)

    def swapped_statistic(side_a, side_b, axis=-1):
        return statistic(np.asarray(side_a) >= n_units)

    result = stats.permutation_test(
        sides, swapped_statistic, permutation_type="samples", vectorized=True,
        n_resamples=n_resamples, alternative="two-sided", axis=-1,
        random_state=np.random.default_rng(seed))
    values = np.asarray(result.null_distribution, dtype=np.float64)
    exact = 2 ** n_units <= n_resamples
    return (NullDistribution(values, np.full(len(values), 1.0 / len(values)),
                             None if exact else len(values)), exact)


@dataclass(frozen=True)
class Paired:
    """One comparison's data on one metric: a's and b's answers per seed (seeds x items), the
    items' units, and how to score a side."""

    metric: str
    a: np.ndarray
    b: np.ndarray
    units: np.ndarray
    reference: np.ndarray | None = None
    n_labels: int = 0

    @property
    def n_units(self) -> int:
        return int(self.units.max()) + 1

    def score(self, answers: np.ndarray) -> np.ndarray:
        """The metric of each seed's answers (..., seeds, items) -> (..., seeds)."""
        if self.metric in ITEM_METRICS:
            return answers.mean(axis=-1)
        return f1_from_indices(self.reference, answers, self.n_labels, F1_AVERAGES[self.metric])

    def difference(self, swapped: np.ndarray | None = None) -> np.ndarray:
        """D with the units in ``swapped`` (..., units) trading answers; the observed D
        without."""
        if swapped is None:
            return np.mean(self.score(self.b) - self.score(self.a), axis=-1)
        items = np.asarray(swapped)[..., None, self.units]  # (..., 1, items), every seed
        a = np.where(items, self.b, self.a)
        b = np.where(items, self.a, self.b)
        return np.mean(self.score(b) - self.score(a), axis=-1)

    def unit_totals(self) -> np.ndarray:
        """Per unit, b - a summed over its items and the seeds (item metrics)."""
        return np.bincount(self.units, weights=(self.b - self.a).sum(axis=0),
                           minlength=self.n_units)


def null_distribution(paired: Paired, n_resamples: int,
                      seed: int) -> tuple[NullDistribution, str, float]:
    """The sign-flip null of D over the units, the name of the test, and the observed D
    computed as the null's values are (so that equal values compare equal)."""
    if paired.metric in ITEM_METRICS:
        totals = paired.unit_totals()
        if ITEM_METRICS[paired.metric][1] and np.array_equal(totals, np.round(totals)):
            integer_totals = np.round(totals).astype(np.int64)
            return (exact_sign_flip(integer_totals, paired.a.size), EXACT_TEST,
                    int(integer_totals.sum()) / paired.a.size)
        totals = totals / paired.a.size

        def statistic(swapped):
            return np.sum(np.where(swapped, -totals, totals), axis=-1)
    else:
        statistic = paired.difference
    null, exact = sampled_sign_flip(statistic, paired.n_units, n_resamples, seed)
    observed = float(statistic(np.zeros(paired.n_units, dtype=bool)))
    return null, ENUMERATED_TEST if exact else SAMPLED_TEST, observed


def smallest_p(n_units: int) -> float:
    """The smallest two-sided P a sign-flip test over ``n_units`` units can give: every unit
    pointing one way, 2 of the 2^units sign vectors as extreme."""
    return min(1.0, 2.0 ** (1 - n_units))


def units_to_reach(alpha: float) -> int:
    """The fewest units with which a sign-flip test can reach ``alpha`` at all."""
    return math.ceil(1 + math.log2(1 / alpha))


def compare_pair(paired: Paired, alpha: float, power: float, n_resamples: int,
                 seed: int) -> dict:
    """A row of the table without its names and role: values, D, the test, the interval at
    level 1 - alpha and the detectable difference."""
    null, test, observed = null_distribution(paired, n_resamples, seed)
    p_value = null.p_value(observed)
    q = null.critical(alpha)
    if p_value > alpha:  # equal to q up to rounding: the closed interval keeps 0
        q = max(q, abs(observed))
    se = null.sd()
    return {"a": float(np.mean(paired.score(paired.a))),
            "b": float(np.mean(paired.score(paired.b))),
            "diff": observed, "ci_low": observed - q, "ci_high": observed + q,
            "ci_level": 1.0 - alpha, "test": test, "statistic": observed,
            "p_value": p_value, "se": se,
            "detectable": (q + float(stats.norm.ppf(power)) * se
                           if smallest_p(paired.n_units) <= alpha else math.inf),
            "n_items": int(paired.a.shape[-1]), "n_units": paired.n_units,
            "n_seeds": int(paired.a.shape[0])}


def _answers(metric: str, records: list[dict], labels: Sequence[str] | None) -> np.ndarray:
    if metric in ITEM_METRICS:
        return item_values(records, metric)
    return record_indices(records, labels)[1]


def paired_data(metric: str, aligned: list[tuple[list[dict], list[dict]]],
                labels: Sequence[str] | None) -> Paired:
    """The arrays of one metric from each seed's aligned (a, b) records (the same items, in
    the same order, in every seed)."""
    first = aligned[0][0]
    return Paired(
        metric=metric,
        a=np.stack([_answers(metric, a, labels) for a, _ in aligned]),
        b=np.stack([_answers(metric, b, labels) for _, b in aligned]),
        units=unit_indices(first),
        reference=None if metric in ITEM_METRICS else record_indices(first, labels)[0],
        n_labels=len(labels) if labels is not None else 0,
    )


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
                             f"{a} vs {b}: a comparison over seeds needs the same items in "
                             "every seed")
    return aligned


def compare_methods(
    records_by_seed: Mapping[int, Mapping[str, list[dict]]],
    metrics: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    primary: tuple[str, str] | None = None,
    n_primary: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    n_resamples: int = 10_000,
    seed: int = 0,
    comparisons: Sequence[tuple[str, str]] = COMPARISONS,
) -> pd.DataFrame:
    """Every comparison (of ``comparisons``, where both methods have records) x metric over
    all training seeds (module docstring). ``records_by_seed``: per seed, each method's
    records (the base model's the same in every seed). ``primary``: (comparison name,
    metric) of the primary hypothesis, one of ``n_primary`` in the experiment. ``labels``:
    the task's label set, for the F1 metrics. Columns: ``COLUMNS``."""
    if not records_by_seed:
        raise ValueError("no seeds to compare over")
    present = set.intersection(*(set(records) for records in records_by_seed.values()))
    chosen = [(a, b) for a, b in comparisons if {a, b} <= present]
    if not chosen:
        raise ValueError(f"no comparison of {list(comparisons)} has records in every seed "
                         f"(methods present: {sorted(present)})")
    if primary is not None and primary[0] not in {comparison_name(a, b) for a, b in chosen}:
        raise ValueError(f"the primary comparison {primary[0]} has no records")
    rows = []
    for a, b in chosen:
        name = comparison_name(a, b)
        aligned = _aligned_over_seeds(records_by_seed, a, b)
        sources = [list(zip(by_answer_source(ra, metrics), by_answer_source(rb, metrics),
                            strict=True)) for ra, rb in aligned]
        for index, ((_, computed, reported), _) in enumerate(sources[0]):
            views = [(per_seed[index][0][0], per_seed[index][1][0]) for per_seed in sources]
            for metric, as_reported in zip(computed, reported, strict=True):
                is_primary = (name, as_reported) == primary
                level_alpha = alpha / n_primary if is_primary else alpha
                row = compare_pair(paired_data(metric, views, labels), level_alpha, power,
                                   n_resamples, seed)
                rows.append({"comparison": name, "metric": as_reported,
                             "role": "primary" if is_primary else "secondary",
                             "p_adjusted": (min(1.0, n_primary * row["p_value"]) if is_primary
                                            else np.nan),
                             "unit": "group" if row["n_units"] < row["n_items"] else "item",
                             **row})
    if primary is not None and not any(row["role"] == "primary" for row in rows):
        raise ValueError(f"the primary metric {primary[1]} is not among {list(metrics)}")
    return pd.DataFrame(rows).loc[:, list(COLUMNS)].reset_index(drop=True)
