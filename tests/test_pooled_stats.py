"""One test of a comparison over all training seeds (sftdpo.stats.compare_pooled)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import StratifiedTable, mcnemar

from sftdpo.metrics import METRICS_BY_KIND
from sftdpo.stats import POOLED_COLUMNS, compare_methods, compare_pooled, holm

LABELS = ("A", "B", "C")
LABEL_METRICS = METRICS_BY_KIND["label"]
FAST = 2000


def make(refs, preds):
    return [{"id": f"i{k:03d}", "reference": r, "parsed": p, "score": int(p == r)}
            for k, (r, p) in enumerate(zip(refs, preds, strict=True))]


def noisy(gold, accuracy, failure, rng):
    preds = []
    for g in gold:
        u = rng.random()
        preds.append(None if u < failure else g if u < failure + accuracy
                     else LABELS[rng.integers(0, len(LABELS))])
    return preds


@pytest.fixture(scope="module")
def two_seeds():
    """Seeds 5 and 6 as the workflow makes them: the same 80 test items, the base model's
    records shared, SFT and DPO trained (here: drawn) per seed."""
    gold = [LABELS[i] for i in np.random.default_rng(0).integers(0, 3, 80)]
    base = make(gold, noisy(gold, 0.4, 0.2, np.random.default_rng(1)))
    return {seed: {"base": base,
                   "sft": make(gold, noisy(gold, 0.6, 0.05, np.random.default_rng(seed))),
                   "dpo": make(gold, noisy(gold, 0.7, 0.05, np.random.default_rng(seed + 10)))}
            for seed in (5, 6)}


def test_pooled_accuracy_is_statsmodels_stratified_mcnemar(two_seeds):
    pooled = compare_pooled(two_seeds, LABEL_METRICS, LABELS, n_resamples=FAST)
    row = pooled.set_index(["comparison", "metric"]).loc[("sft_vs_dpo", "accuracy")]
    assert row["test"] == "cmh_stratified_mcnemar" and row["n_seeds"] == 2
    # statsmodels from the long data, each item of each seed a stratum. from_data needs both
    # outcomes in a stratum, so it gets the discordant ones; a concordant stratum adds nothing
    # to the CMH sums (the 2x2xK array of every stratum below gives the same).
    long = pd.DataFrame([{"stratum": f"{seed}:{r['id']}", "method": method,
                          "right": int(r["score"] == 1)}
                         for seed, methods in two_seeds.items() for method in ("sft", "dpo")
                         for r in methods[method]])
    discordant = long.groupby("stratum")["right"].transform("nunique") == 2
    expected = StratifiedTable.from_data("method", "right", "stratum",
                                         long[discordant]).test_null_odds(correction=True)
    assert abs(row["p_value"] - expected.pvalue) < 1e-9
    assert abs(row["statistic"] - expected.statistic) < 1e-9
    every = np.array([[[int(r["score"] == 1), int(r["score"] != 1)]
                       for r in (two_seeds[s]["sft"][k], two_seeds[s]["dpo"][k])]
                      for s in (5, 6) for k in range(80)]).transpose(1, 2, 0)
    assert abs(row["p_value"] - StratifiedTable(every).test_null_odds(True).pvalue) < 1e-9
    # The same as McNemar's corrected chi-square on the discordant counts summed over seeds.
    right = {m: np.concatenate([[r["score"] == 1 for r in two_seeds[s][m]] for s in (5, 6)])
             for m in ("sft", "dpo")}
    sft, dpo = right["sft"], right["dpo"]
    summed = np.array([[np.sum(sft & dpo), np.sum(sft & ~dpo)],
                       [np.sum(~sft & dpo), np.sum(~sft & ~dpo)]])
    assert abs(row["p_value"] - mcnemar(summed, exact=False, correction=True).pvalue) < 1e-9
    per_seed = [compare_methods(two_seeds[s], LABEL_METRICS, LABELS, n_resamples=FAST)
                .set_index(["comparison", "metric"]).loc[("sft_vs_dpo", "accuracy")]
                for s in (5, 6)]
    assert row["a"] == pytest.approx(np.mean([r["a"] for r in per_seed]))
    assert row["diff"] == pytest.approx(np.mean([r["diff"] for r in per_seed]))
    assert row["ci_low"] <= row["diff"] <= row["ci_high"]


def test_pooled_table_layout_and_holm(two_seeds):
    pooled = compare_pooled(two_seeds, LABEL_METRICS, LABELS, n_resamples=FAST)
    assert list(pooled.columns) == list(POOLED_COLUMNS)
    assert len(pooled) == 3 * len(LABEL_METRICS)
    assert set(pooled["test"]) == {"cmh_stratified_mcnemar", "pooled_approximate_randomization"}
    for _, rows in pooled.groupby("metric"):
        np.testing.assert_allclose(rows["p_adjusted"], holm(rows["p_value"]))
    assert np.isfinite(pooled[["a", "b", "diff", "ci_low", "ci_high", "statistic",
                               "p_value"]].to_numpy(dtype=float)).all()


def test_with_one_seed_the_randomisation_is_the_per_seed_one(two_seeds):
    """The pooled permutation swaps items exactly as the per-seed test does."""
    one = {5: two_seeds[5]}
    pooled = compare_pooled(one, LABEL_METRICS, LABELS, n_resamples=FAST, seed=3)
    per_seed = compare_methods(two_seeds[5], LABEL_METRICS, LABELS, n_resamples=FAST, seed=3)
    for metric in ("macro_f1", "micro_f1", "weighted_f1"):
        got = pooled.set_index(["comparison", "metric"]).loc[("sft_vs_dpo", metric)]
        want = per_seed.set_index(["comparison", "metric"]).loc[("sft_vs_dpo", metric)]
        assert got["p_value"] == want["p_value"]
        assert got[["a", "b", "ci_low", "ci_high"]].tolist() == pytest.approx(
            want[["a", "b", "ci_low", "ci_high"]].tolist())


def test_pooled_randomisation_swaps_an_item_in_every_seed_at_once():
    """8 items: scipy enumerates all 2**8 swaps; the p value equals a brute-force
    enumeration where each swap applies to both seeds, scored with scikit-learn."""
    refs = ["A", "A", "B", "B", "C", "C", "A", "B"]
    seeds = {0: (["A", "B", "B", None, "A", "C", "C", None],
                 ["A", "A", "B", "B", "C", "C", "A", "A"]),
             1: (["B", "A", "B", "A", "A", "C", None, "B"],
                 ["A", "A", "C", "B", "C", "C", "A", "B"])}
    records = {s: {"a": make(refs, pa), "b": make(refs, pb)} for s, (pa, pb) in seeds.items()}
    row = compare_pooled(records, ["macro_f1"], LABELS, n_resamples=FAST,
                         comparisons=[("a", "b")]).iloc[0]
    assert row["test"] == "pooled_approximate_randomization"

    def f1(preds):
        return f1_score(refs, ["-" if p is None else p for p in preds], labels=list(LABELS),
                        average="macro", zero_division=0)

    def statistic(swap):
        diffs = []
        for pa, pb in seeds.values():
            xa = [b if s else a for a, b, s in zip(pa, pb, swap, strict=True)]
            xb = [a if s else b for a, b, s in zip(pa, pb, swap, strict=True)]
            diffs.append(f1(xb) - f1(xa))
        return np.mean(diffs)

    observed = statistic([False] * len(refs))
    assert row["statistic"] == pytest.approx(observed, abs=1e-12)
    null = np.array([statistic(swap) for swap in itertools.product([False, True],
                                                                   repeat=len(refs))])
    tol = 1e-12
    p = min(1.0, 2 * min(np.mean(null >= observed - tol), np.mean(null <= observed + tol)))
    assert row["p_value"] == pytest.approx(p, abs=1e-12)


def test_grades_and_rouge_are_pooled_by_randomisation():
    rng = np.random.default_rng(4)

    def summaries(shift):
        return [{"id": f"n{k}", "reference": "ref", "parsed": "x", "score": int(g),
                 "rouge_l": float(r)}
                for k, (g, r) in enumerate(zip(np.clip(rng.integers(1, 5, 30) + shift, 1, 5),
                                               rng.random(30), strict=True))]

    records = {s: {"base": summaries(0), "sft": summaries(0), "dpo": summaries(1)}
               for s in (0, 1)}
    pooled = compare_pooled(records, ["likert", "rouge_l"], n_resamples=FAST)
    assert set(pooled["test"]) == {"pooled_approximate_randomization"}
    likert = pooled.set_index(["comparison", "metric"]).loc[("sft_vs_dpo", "likert")]
    assert likert["diff"] > 0.5 and likert["p_value"] < 0.01


def test_identical_methods_and_different_items_across_seeds(two_seeds):
    same = {s: {m: two_seeds[s]["sft"] for m in ("base", "sft", "dpo")} for s in (5, 6)}
    pooled = compare_pooled(same, LABEL_METRICS, LABELS, n_resamples=FAST)
    assert (pooled["p_value"] == 1.0).all() and (pooled["diff"] == 0).all()
    shorter = {5: two_seeds[5], 6: {m: r[:-1] for m, r in two_seeds[6].items()}}
    with pytest.raises(ValueError, match="seeds 5 and 6 do not hold the same test items"):
        compare_pooled(shorter, LABEL_METRICS, LABELS, n_resamples=FAST)
    with pytest.raises(ValueError, match="seed 6: no records for methods"):
        compare_pooled({5: two_seeds[5], 6: {"sft": two_seeds[6]["sft"]}}, LABEL_METRICS,
                       LABELS)
