"""Per-method metrics computed from per-item records (the results contract's predictions).

A record is a dict with at least ``id``, ``reference``, ``parsed`` (the answer read from the
model's text, None when it held none) and ``score`` (1/0, or the 1-5 grade of a summary).
Which metrics a task gets depends on its kind (``METRICS_BY_KIND``):

* item metrics, the mean of a per-item value (``ITEM_METRICS``): ``accuracy`` (score 1/0),
  ``parse_failure_rate``, ``likert`` (the grade) and ``rouge_l``;
* ``macro_f1``, ``micro_f1`` and ``weighted_f1`` of a label task, over its whole label set,
  with the per-class precision, recall, F1 and the confusion matrix beside them. Records are
  turned into integer arrays once, by :func:`record_indices`; the metric here and the paired test in
  :mod:`sftdpo.stats` both work on those arrays.

Unparsed answers (index ``UNPARSED`` = -1) count as wrong for accuracy and as a prediction of
no label for macro F1: they lower the recall of the item's true class and add no false
positive to any listed class. This is what scikit-learn's
``f1_score(labels=labels, average="macro", zero_division=0)`` gives with None mapped to a
sentinel outside ``labels``; :func:`f1_from_indices` is a vectorised equivalent (the
tests check it against scikit-learn). Every label in ``labels`` enters the macro average,
also one absent from both the references and the predictions (its F1 is then 0).

Confidence intervals are 95% percentile bootstrap intervals over the units of inference
(``scipy.stats.bootstrap(method="percentile")``, seeded): a record's ``unit`` is its item's
group where the split keeps groups apart (a template family, a patient), so items that share a
group are drawn together (a cluster bootstrap); without groups each item is its own unit.
Percentile rather than BCa because BCa is undefined for degenerate data (all items correct
gives a constant bootstrap distribution and scipy returns NaN); the percentile interval is then
simply [x, x].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNPARSED = -1
CONFIDENCE_LEVEL = 0.95


# Metrics that are the mean of a per-item value: the value, and whether it is a whole number
# (then sftdpo.stats computes the paired sign-flip test exactly).
ITEM_METRICS = {
    "accuracy": (lambda record: float(record["score"] == 1), True),
    "parse_failure_rate": (lambda record: float(record["parsed"] is None), True),
    "likert": (lambda record: float(record["score"]), True),
    "rouge_l": (lambda record: float(record["rouge_l"]), False),
    # The optional LLM judge's grade; an answer without a grade counts as 1, and is counted.
    "judge_likert": (lambda record: float(record["judge_grade"] or 1), True),
    "judge_unparseable_rate": (lambda record: float(record["judge_grade"] is None), True),
}
JUDGE_METRICS = ("judge_likert", "judge_unparseable_rate")
METRICS_BY_KIND = {
    "label": ("accuracy", "macro_f1", "micro_f1", "weighted_f1", "parse_failure_rate"),
    "choice": ("accuracy", "parse_failure_rate"),
    "summary": ("likert", "rouge_l", "parse_failure_rate"),
}

# Evaluation modes (config ``evaluation.mode``): ``generate`` parses the model's greedy answer
# (the paper's way); ``likelihood`` takes the candidate answer (label or option) the model
# gives the highest log-probability after the prompt, so no answer is unparseable; ``both``
# runs both. Summaries always generate. A likelihood metric is the same metric computed on
# the likelihood answers, named with this prefix (``likelihood_macro_f1``); it is compared by
# the same paired test. A prediction record holds the likelihood answer under its
# ``likelihood`` key (``parsed``, ``score``, the candidates' ``logprobs``).
EVALUATION_MODES = ("generate", "likelihood", "both")
LIKELIHOOD_PREFIX = "likelihood_"
RANKED_KINDS = ("label", "choice")
LIKELIHOOD_METRICS = tuple(LIKELIHOOD_PREFIX + m for kind in RANKED_KINDS
                           for m in METRICS_BY_KIND[kind] if m != "parse_failure_rate")
ALL_METRICS = tuple(dict.fromkeys(
    [m for kind in METRICS_BY_KIND.values() for m in kind] + list(LIKELIHOOD_METRICS)
    + list(JUDGE_METRICS)))


def evaluation_mode(kind: str, mode: str) -> str:
    """The mode a task of ``kind`` is evaluated in when the config asks for ``mode``."""
    return mode if kind in RANKED_KINDS else "generate"


def generates(kind: str, mode: str) -> bool:
    return evaluation_mode(kind, mode) in ("generate", "both")


def ranks(kind: str, mode: str) -> bool:
    return evaluation_mode(kind, mode) in ("likelihood", "both")


def evaluated(metrics: Sequence[str], kind: str, mode: str) -> tuple[str, ...]:
    """``metrics`` (a task's or a kind's, named as generated) as the mode reports them:
    generated ones as they are, then the likelihood ones (no parse failures to count)."""
    generated = tuple(metrics) if generates(kind, mode) else ()
    ranked = tuple(LIKELIHOOD_PREFIX + m for m in metrics
                   if m != "parse_failure_rate") if ranks(kind, mode) else ()
    return generated + ranked


def metrics_of(kind: str, records: Sequence[dict], mode: str = "generate") -> tuple[str, ...]:
    """The metrics of a task kind's records: the kind's own in the evaluation mode, and the
    judge's where it graded."""
    judged = bool(records) and "judge_grade" in records[0]
    return evaluated(METRICS_BY_KIND[kind], kind, mode) + (JUDGE_METRICS if judged else ())


def by_answer_source(records: Sequence[dict], metrics: Sequence[str]):
    """Yield (records, metric names as computed, the names to report them under): the
    generated answers' records for generated metrics, the likelihood answers' (``parsed``
    and ``score`` taken from each record's ``likelihood``) for the prefixed ones."""
    plain = [m for m in metrics if not m.startswith(LIKELIHOOD_PREFIX)]
    ranked = [m for m in metrics if m.startswith(LIKELIHOOD_PREFIX)]
    if plain:
        yield records, plain, plain
    if ranked:
        views = [{**record, "parsed": record["likelihood"]["parsed"],
                  "score": record["likelihood"]["score"]} for record in records]
        yield views, [m.removeprefix(LIKELIHOOD_PREFIX) for m in ranked], ranked


def item_values(records: Sequence[dict], metric: str) -> np.ndarray:
    """The per-item values of an item metric, in record order."""
    value = ITEM_METRICS[metric][0]
    return np.array([value(record) for record in records], dtype=np.float64)


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


F1_AVERAGES = {"macro_f1": "macro", "micro_f1": "micro", "weighted_f1": "weighted"}


def f1_from_indices(ref: np.ndarray, pred: np.ndarray, n_labels: int,
                    average: str = "macro", weights: np.ndarray | None = None) -> np.ndarray:
    """F1 over labels ``0 .. n_labels-1`` along the last axis, for any leading axes.

    ``ref`` and ``pred`` hold label indices (``pred`` may hold -1 for unparsed) and are
    broadcast against each other, so ``ref`` of shape (n,) with ``pred`` of shape (R, n)
    gives R values. Per label F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (#predicted + #true),
    0 where that denominator is 0, as scikit-learn with ``zero_division=0``. ``average``:
    ``macro`` (mean over labels), ``weighted`` (weighted by each label's true count) or
    ``micro`` (2 sum TP / (sum #predicted + sum #true) over the labels), as scikit-learn's
    ``f1_score(labels=range(n_labels), average=...)``. ``weights`` (broadcast like ``pred``)
    count each item that many times, as a resample that draws it that often does.
    """
    ref, pred, item_weights = np.broadcast_arrays(
        np.asarray(ref), np.asarray(pred),
        np.asarray(1.0 if weights is None else weights, dtype=np.float64))
    lead_shape, n = ref.shape[:-1], ref.shape[-1]
    rows = int(np.prod(lead_shape))
    ref2, pred2 = ref.reshape(rows, n), pred.reshape(rows, n)
    weights2 = item_weights.reshape(rows, n)
    width = n_labels + 1  # slot 0 of each row collects the unparsed (-1) predictions
    offsets = (np.arange(rows) * width)[:, None]

    def counts(index: np.ndarray, weights: np.ndarray) -> np.ndarray:
        flat = np.bincount((index + 1 + offsets).ravel(), weights=weights.ravel(),
                           minlength=rows * width)
        return flat.reshape(rows, width)[:, 1:]

    true_positive = counts(ref2, weights2 * (ref2 == pred2))
    true_count = counts(ref2, weights2)
    denominator = true_count + counts(pred2, weights2)
    if average == "micro":
        total = denominator.sum(axis=-1)
        f1 = np.divide(2.0 * true_positive.sum(axis=-1), total,
                       out=np.zeros(total.shape, dtype=np.float64), where=total > 0)
        return f1.reshape(lead_shape)
    f1 = np.divide(2.0 * true_positive, denominator,
                   out=np.zeros(denominator.shape, dtype=np.float64), where=denominator > 0)
    if average == "weighted":
        support = true_count.sum(axis=-1, keepdims=True)
        weights = np.divide(true_count, support, out=np.zeros(true_count.shape),
                            where=support > 0)
        return (f1 * weights).sum(axis=-1).reshape(lead_shape)
    return f1.mean(axis=-1).reshape(lead_shape)


def per_class_report(records: Sequence[dict], labels: Sequence[str]) -> dict:
    """Per label precision, recall, F1 and support, and the confusion matrix (rows the
    reference, columns the parsed label, then ``unparsed``), by scikit-learn."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    ref, pred = record_indices(records, labels)
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        ref, pred, labels=indices, zero_division=0)
    matrix = confusion_matrix(ref, pred, labels=[*indices, UNPARSED])[: len(labels)]
    return {
        "per_class": {label: {"precision": float(precision[i]), "recall": float(recall[i]),
                              "f1": float(f1[i]), "support": int(support[i])}
                      for i, label in enumerate(labels)},
        "confusion_matrix": {"rows": list(labels), "columns": [*labels, "unparsed"],
                             "counts": matrix.tolist()},
    }


def unit_indices(records: Sequence[dict]) -> np.ndarray:
    """Each record's unit of inference as 0 .. units-1, in order of first appearance: its
    ``unit`` field (the item's group where the split keeps groups apart), else the item."""
    index: dict[str, int] = {}
    return np.array([index.setdefault(str(record.get("unit", f"item {record['id']}")),
                                      len(index)) for record in records], dtype=np.int64)


def unit_bootstrap_ci(statistic, units: np.ndarray, n_resamples: int = 10_000, seed: int = 0,
                      level: float = CONFIDENCE_LEVEL) -> list[float]:
    """Percentile bootstrap CI of ``statistic(weights)`` with the units resampled: a draw of
    units with replacement weights each item by how often its unit was drawn (a cluster
    bootstrap; with one item per unit, the plain item bootstrap). ``statistic`` maps weights
    of shape (..., items) to values of shape (...)."""
    n_units = int(units.max()) + 1 if len(units) else 0
    if n_units < 2:  # scipy needs two units; one gives a point interval
        value = float(statistic(np.ones(len(units))))
        return [value, value]
    from scipy import stats  # here, not above: 0.3 s that every generate job would import

    def resampled(drawn: np.ndarray, axis: int = -1) -> np.ndarray:
        flat = np.asarray(drawn).reshape(-1, n_units)
        offsets = (np.arange(len(flat)) * n_units)[:, None]
        counts = np.bincount((flat + offsets).ravel(), minlength=flat.size).reshape(flat.shape)
        return statistic(counts[:, units].astype(np.float64)).reshape(np.shape(drawn)[:-1])

    result = stats.bootstrap(
        (np.arange(n_units),),
        resampled,
        n_resamples=n_resamples,
        vectorized=True,
        axis=-1,
        confidence_level=level,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return [float(interval.low), float(interval.high)]


def method_metrics(
    records: Sequence[dict],
    metrics: Sequence[str],
    labels: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict:
    """``n`` and each metric with its 95% bootstrap CI (``<metric>_ci`` = [low, high]).

    ``labels`` (the task's label set) is needed for the F1 metrics only; with them come the
    per-class report and confusion matrix (:func:`per_class_report`) of the records'
    top-level answers. Likelihood metrics are computed on the likelihood answers
    (:func:`by_answer_source`).
    """
    if len(records) == 0:
        raise ValueError("no records to score")
    result: dict = {"n": len(records)}
    for view, computed, reported in by_answer_source(records, metrics):
        values = _metrics_with_ci(view, computed, labels, n_resamples, seed)
        for name, as_reported in zip(computed, reported, strict=True):
            result[as_reported] = values[name]
            result[f"{as_reported}_ci"] = values[f"{name}_ci"]
    if labels is not None:
        result |= per_class_report(records, labels)
    return result


def _metrics_with_ci(records: Sequence[dict], metrics: Sequence[str],
                     labels: Sequence[str] | None, n_resamples: int, seed: int) -> dict:
    result: dict = {}
    units = unit_indices(records)
    for name in metrics:
        if name in ITEM_METRICS:
            values = item_values(records, name)

            def statistic(weights, values=values):
                return (weights * values).sum(axis=-1) / weights.sum(axis=-1)
        else:
            ref, pred = record_indices(records, labels)

            def statistic(weights, ref=ref, pred=pred, average=F1_AVERAGES[name]):
                return f1_from_indices(ref, pred, len(labels), average, weights=weights)
        result[name] = float(statistic(np.ones(len(records))))
        result[f"{name}_ci"] = unit_bootstrap_ci(statistic, units, n_resamples, seed)
    return result
