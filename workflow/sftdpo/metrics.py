"""Per-method metrics of a classification task, computed from per-item records.

A record is a dict with at least ``id``, ``reference`` (the gold label) and ``parsed`` (the
label the model's answer was parsed to, or None when it could not be parsed). Records are
turned into integer arrays once, by :func:`record_indices`; the metrics here and the paired
tests in :mod:`sftdpo.stats` both work on those arrays.

Unparsed answers (index ``UNPARSED`` = -1) count as wrong for accuracy and as a prediction of
no label for macro F1: they lower the recall of the item's true class and add no false
positive to any listed class. This is what scikit-learn's
``f1_score(labels=labels, average="macro", zero_division=0)`` gives with None mapped to a
sentinel outside ``labels``; :func:`macro_f1_from_indices` is a vectorised equivalent (the
tests check it against scikit-learn). Every label in ``labels`` enters the macro average,
also one absent from both the references and the predictions (its F1 is then 0).

Confidence intervals are 95% percentile bootstrap intervals over items
(``scipy.stats.bootstrap(method="percentile")``, seeded). Percentile rather than BCa because
BCa is undefined for degenerate data (all items correct gives a constant bootstrap
distribution and scipy returns NaN); the percentile interval is then simply [x, x].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

UNPARSED = -1
CONFIDENCE_LEVEL = 0.95


# Metrics that are the mean of a per-item flag; the paired tests compare these flags.
ITEM_FLAGS = {
    "accuracy": lambda ref, pred: pred == ref,
    "parse_failure_rate": lambda ref, pred: pred == UNPARSED,
}


def metric_functions(n_labels: int) -> dict:
    """Every metric, by name, as a function of (reference, prediction) index arrays that works
    along the last axis (so on a leading resample axis too)."""
    return {
        "accuracy": lambda ref, pred: np.mean(ITEM_FLAGS["accuracy"](ref, pred), axis=-1),
        "macro_f1": lambda ref, pred: macro_f1_from_indices(ref, pred, n_labels),
        "parse_failure_rate": lambda ref, pred: np.mean(
            ITEM_FLAGS["parse_failure_rate"](ref, pred), axis=-1
        ),
    }


METRICS = tuple(metric_functions(1))


def label_index(labels: Sequence[str]) -> dict[str, int]:
    """Position of each label; raises on an empty or repeated label list."""
    if len(labels) == 0:
        raise ValueError("labels must not be empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels contain duplicates: {list(labels)}")
    return {label: i for i, label in enumerate(labels)}


def record_indices(records: Sequence[dict], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Map records, in their order, to (reference index, prediction index) integer arrays.

    The prediction index is ``UNPARSED`` (-1) where ``parsed`` is None. A reference or a
    parsed answer that is not one of ``labels`` raises ValueError: the task's parser only
    returns its labels, so anything else is a bug upstream.
    """
    index = label_index(labels)
    ref = np.empty(len(records), dtype=np.int64)
    pred = np.empty(len(records), dtype=np.int64)
    for i, record in enumerate(records):
        reference, parsed = record["reference"], record["parsed"]
        if reference not in index:
            raise ValueError(f"item {record['id']!r}: reference {reference!r} not in {labels}")
        if parsed is not None and parsed not in index:
            raise ValueError(f"item {record['id']!r}: parsed {parsed!r} not in {labels}")
        ref[i] = index[reference]
        pred[i] = UNPARSED if parsed is None else index[parsed]
    return ref, pred


def macro_f1_from_indices(ref: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Macro F1 over labels ``0 .. n_labels-1`` along the last axis, for any leading axes.

    ``ref`` and ``pred`` hold label indices (``pred`` may hold -1 for unparsed) and are
    broadcast against each other, so ``ref`` of shape (n,) with ``pred`` of shape (R, n)
    gives R values. Per label F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (#predicted + #true),
    0 where that denominator is 0, as scikit-learn with ``zero_division=0``.
    """
    ref, pred = np.broadcast_arrays(np.asarray(ref), np.asarray(pred))
    lead_shape, n = ref.shape[:-1], ref.shape[-1]
    rows = int(np.prod(lead_shape))
    ref2, pred2 = ref.reshape(rows, n), pred.reshape(rows, n)
    width = n_labels + 1  # slot 0 of each row collects the unparsed (-1) predictions
    offsets = (np.arange(rows) * width)[:, None]

    def counts(index: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        flat = np.bincount((index + 1 + offsets).ravel(), weights=weights, minlength=rows * width)
        return flat.reshape(rows, width)[:, 1:]

    true_positive = counts(ref2, weights=(ref2 == pred2).ravel().astype(np.float64))
    denominator = counts(ref2) + counts(pred2)
    f1 = np.divide(
        2.0 * true_positive,
        denominator,
        out=np.zeros(denominator.shape, dtype=np.float64),
        where=denominator > 0,
    )
    return f1.mean(axis=-1).reshape(lead_shape)


def paired_bootstrap_ci(
    data: tuple[np.ndarray, ...], statistic, n_resamples: int = 10_000, seed: int = 0
) -> list[float]:
    """95% percentile bootstrap CI of ``statistic(*data, axis=-1)``, items resampled jointly.

    ``data`` are arrays over the same items (last axis); ``statistic`` must be vectorised
    (accept arrays with a leading resample axis and the keyword ``axis``).
    """
    if data[0].shape[-1] < 2:  # scipy needs two items; one item gives a point interval
        value = float(statistic(*data, axis=-1))
        return [value, value]
    result = stats.bootstrap(
        data,
        statistic,
        n_resamples=n_resamples,
        paired=True,
        vectorized=True,
        axis=-1,
        confidence_level=CONFIDENCE_LEVEL,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return [float(interval.low), float(interval.high)]


def classification_metrics(
    records: Sequence[dict],
    labels: Sequence[str],
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict:
    """n, accuracy, macro F1 and parse failure rate, each rate with a 95% bootstrap CI.

    Returns JSON-ready values: ``n`` (int), ``accuracy``, ``macro_f1``,
    ``parse_failure_rate`` (floats) and ``<metric>_ci`` = [low, high] for each of the three.
    """
    if len(records) == 0:
        raise ValueError("no records to score")
    ref, pred = record_indices(records, labels)
    result: dict = {"n": len(ref)}
    for name, metric in metric_functions(len(labels)).items():
        result[name] = float(metric(ref, pred))
        result[f"{name}_ci"] = paired_bootstrap_ci(
            (ref, pred), lambda ref, pred, axis=-1, metric=metric: metric(ref, pred),
            n_resamples, seed,
        )
    return result
