"""Per-item answers and scores: the task parses each generated answer, or ranks its candidate
answers by the model's log-probability, and scores the answer against the item."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tasks.base import Task
from .userdata import DataError

if TYPE_CHECKING:  # torch: model jobs only, not the score job
    from .inference import TokenTally


def candidate_logprobs(model, tokenizer, task: Task, items: list[dict],
                       batch_size: int) -> tuple[list[dict[str, float]], TokenTally]:
    """Per item, each candidate answer (label or option) with the summed log-probability the
    model gives its assistant text after the prompt, in the model's chat template;
    ``batch_size`` items run at once. Also the tokens the scoring ran
    (:func:`sftdpo.inference.answer_logprobs`), for the job's compute record."""
    candidates = [task.candidates(item) for item in items]
    for item, answers in zip(items, candidates, strict=True):
        if not answers or len(answers) < 2:
            raise DataError(
                f"task {task.name!r}, item {item['id']!r}: ranking answers by likelihood needs "
                f"at least two candidate answers (labels, or an item's options or answers), and "
                f"this item has {len(answers or [])}; evaluate with evaluation.mode: generate, "
                "or give the item its options")
    from .inference import answer_logprobs  # torch: model jobs only, not the score job

    logprobs, tally = answer_logprobs(
        model, tokenizer, [task.prompt_messages(item) for item in items],
        [[task.answer_text(item, a) for a in answers]
         for item, answers in zip(items, candidates, strict=True)], batch_size)
    return [dict(zip(answers, values, strict=True))
            for answers, values in zip(candidates, logprobs, strict=True)], tally


def most_likely(logprobs: dict[str, float]) -> str:
    """The candidate with the highest log-probability; on a tie, the first listed."""
    return max(logprobs, key=logprobs.__getitem__)


def score_generations(task: Task, test_items: list[dict], generations: list[dict]) -> list[dict]:
    """One prediction record per test item (the results contract's predictions): ``id``,
    raw ``prediction``, ``parsed`` answer (None when unparseable), ``reference``, ``score``,
    and whatever other per-item values the task's scorer gives (e.g. ``rouge_l``).

    A generation with ``logprobs`` (likelihood evaluation) also gives the record's
    ``likelihood``: the most likely candidate as ``parsed``, its ``score`` and the
    ``logprobs``. Without a generated ``prediction`` the top-level fields are the likelihood
    answer's, its ``prediction`` the answer's assistant text.
    """
    by_id = {g["id"]: g for g in generations}
    missing = [item["id"] for item in test_items if item["id"] not in by_id]
    if missing:
        raise ValueError(f"no generation for test items {missing[:5]} ({len(missing)} in all)")
    records = []
    for item in test_items:
        generation = by_id[item["id"]]
        record = {"id": item["id"]}
        if "logprobs" in generation:
            best = most_likely(generation["logprobs"])
            ranked = {"parsed": best, "score": task.score(item, best)["score"],
                      "logprobs": generation["logprobs"]}
        if "prediction" in generation:
            prediction = generation["prediction"]
            parsed = task.parse(prediction, item)
        else:
            prediction, parsed = task.answer_text(item, best), best
        record |= {"prediction": prediction, "parsed": parsed, "reference": task.gold(item),
                   **task.score(item, parsed)}
        if "logprobs" in generation:
            record["likelihood"] = ranked
        records.append(record)
    return records
