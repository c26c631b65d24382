"""Preference pairs (prompt, chosen, rejected) for DPO, built on the training split.

Chosen is always the gold answer (the reference completion); the strategies differ in what
they reject. Every pair records the strategy that made it, so a fallback is visible.

* ``hardest_wrong_label``: the wrong answer (label, or option of a multiple-choice item) the
  SFT model itself finds most likely, so DPO pushes exactly against its strongest confusion.
* ``sft_wrong_answers``: the SFT model's own greedy answer to the training prompt, where it is
  wrong (on-policy rejected). Where it is right, the pair falls back to the hardest wrong
  label (label and choice tasks) or to a degraded summary (summaries).
* ``degraded_summary``: the reference summary with key facts dropped, with a fact
  contradicted, or the base model's own summary (the ``degradations`` list, cycled in a seeded
  order per item); a degradation that does not grade below the reference gives way to the next.
* ``user_pairs``: the chosen and rejected answers the user's data brings in its columns
  (training rows without them make no pair).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .inference import generate_answers
from .scoring import candidate_logprobs, most_likely
from .tasks.base import Task
from .tasks.summary import contradict_fact, drop_key_facts
from .userdata import DataError

DEGRADATIONS = ("drop_key_facts", "contradict_fact", "base_summary")


@dataclass
class PairContext:
    """What a strategy may use: the SFT model, the task and its training items, settings."""

    model: object
    tokenizer: object
    task: Task
    items: list[dict]
    seed: int
    max_new_tokens: int
    batch_size: int
    degradations: tuple[str, ...] = DEGRADATIONS
    # Loads the base model without the adapter, for base_summary; only called when needed.
    load_base_model: Callable[[], object] | None = None


def _pair(ctx: PairContext, item: dict, strategy: str, rejected: str, **extra) -> dict:
    return {"id": item["id"], "strategy": strategy, "prompt": ctx.task.prompt_messages(item),
            "chosen": ctx.task.completion(item), "rejected": rejected, **extra}


def _is_correct(task: Task, item: dict, answer: str) -> bool:
    return task.score(item, answer)["score"] == task.score(item, task.gold(item))["score"]


def _hardest_wrong(ctx: PairContext, item: dict) -> dict:
    task = ctx.task
    candidates = task.candidates(item)
    if not candidates or len(candidates) < 2:
        raise DataError(
            f"task {task.name!r}, item {item['id']!r}: hardest_wrong_label needs at least two "
            f"candidate answers, and this {task.kind} task's item has "
            f"{len(candidates or [])}; use sft_wrong_answers or degraded_summary instead")
    logprobs = candidate_logprobs(ctx.model, ctx.tokenizer, task, item)
    gold_logprob = max(lp for answer, lp in logprobs.items() if _is_correct(task, item, answer))
    wrong = {answer: lp for answer, lp in logprobs.items() if not _is_correct(task, item, answer)}
    answer = most_likely(wrong)
    return _pair(ctx, item, "hardest_wrong_label", task.answer_text(item, answer),
                 rejected_answer=answer, chosen_logprob=gold_logprob,
                 rejected_logprob=wrong[answer], sft_prefers_rejected=wrong[answer] > gold_logprob)


def hardest_wrong_label_pairs(ctx: PairContext) -> list[dict]:
    return [_hardest_wrong(ctx, item) for item in ctx.items]


def _degraded(ctx: PairContext, item: dict, order: list[str], base_summaries: dict) -> dict:
    task = ctx.task
    reference_grade = task.score(item, task.completion(item))["score"]
    rng = random.Random(f"{ctx.seed}:degrade:{item['id']}")
    for name in order:
        try:
            if name == "base_summary":
                rejected = base_summaries.get(item["id"], "")
            elif name == "drop_key_facts":
                rejected = drop_key_facts(item, rng)
            else:
                rejected = contradict_fact(item, rng)
        except ValueError:
            continue
        grade = task.score(item, task.parse(rejected, item))["score"]
        if rejected.strip() and grade < reference_grade:
            return _pair(ctx, item, f"degraded_summary:{name}", rejected, rejected_grade=grade,
                         chosen_grade=reference_grade)
    raise DataError(f"task {task.name!r}, item {item['id']!r}: none of the degradations "
                    f"{order} gives a summary that grades below the reference; check its "
                    "key_facts against its reference")


def _base_summaries(ctx: PairContext, items: list[dict]) -> dict[str, str]:
    if not items:
        return {}
    model = ctx.load_base_model()
    answers, _ = generate_answers(model, ctx.tokenizer,
                                  [ctx.task.prompt_messages(item) for item in items],
                                  ctx.max_new_tokens, ctx.batch_size)
    return {item["id"]: answer for item, answer in zip(items, answers, strict=True)}


def degraded_summary_pairs(ctx: PairContext, items: list[dict] | None = None) -> list[dict]:
    items = ctx.items if items is None else items
    rng = random.Random(ctx.seed)
    orders = []
    for _ in items:  # each item tries the degradations from a seeded starting point
        start = rng.randrange(len(ctx.degradations))
        orders.append(list(ctx.degradations[start:] + ctx.degradations[:start]))
    needs_base = [item for item, order in zip(items, orders, strict=True)
                  if order[0] == "base_summary"]
    base_summaries = _base_summaries(ctx, needs_base)
    return [_degraded(ctx, item, order, base_summaries)
            for item, order in zip(items, orders, strict=True)]


def sft_wrong_answer_pairs(ctx: PairContext) -> list[dict]:
    task = ctx.task
    answers, _ = generate_answers(ctx.model, ctx.tokenizer,
                                  [task.prompt_messages(item) for item in ctx.items],
                                  ctx.max_new_tokens, ctx.batch_size)
    pairs, right = [], []
    for item, answer in zip(ctx.items, answers, strict=True):
        if answer.strip() and not _is_correct(task, item, task.parse(answer, item)):
            pairs.append(_pair(ctx, item, "sft_wrong_answer", answer))
        else:
            right.append(item)
    if task.kind == "summary":
        pairs += degraded_summary_pairs(ctx, right)
    else:
        pairs += [_hardest_wrong(ctx, item) for item in right]
    order = {item["id"]: i for i, item in enumerate(ctx.items)}
    return sorted(pairs, key=lambda pair: order[pair["id"]])


def user_pairs(ctx: PairContext) -> list[dict]:
    """The pairs of the training items that bring one (a row may leave both columns empty)."""
    pairs = [_pair(ctx, item, "user_pairs", item["rejected"]) | {"chosen": item["chosen"]}
             for item in ctx.items if item.get("chosen") and item.get("rejected")]
    if not pairs:
        raise DataError(
            f"task {ctx.task.name!r}: pairs.strategy user_pairs needs chosen and rejected "
            f"answers in the data (tasks.{ctx.task.name}.data.columns.chosen / .rejected), "
            f"and none of the {len(ctx.items)} training items has both")
    return pairs


# A task's pairs.strategy names one of these.
PAIR_STRATEGIES: dict[str, Callable[[PairContext], list[dict]]] = {
    "hardest_wrong_label": hardest_wrong_label_pairs,
    "sft_wrong_answers": sft_wrong_answer_pairs,
    "degraded_summary": degraded_summary_pairs,
    "user_pairs": user_pairs,
}
