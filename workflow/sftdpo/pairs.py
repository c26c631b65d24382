"""Preference pairs (prompt, chosen, rejected) for DPO, built on the training split.

Chosen is always the gold answer (the reference completion); the strategies differ in what
they reject. Every pair records the strategy that made it, so a fallback is visible.

* ``hardest_wrong_label``: the wrong answer (label, or option of a multiple-choice item) the
  SFT model itself finds most likely, so DPO pushes exactly against its strongest confusion.
  The pair records both answers' log-probabilities under that model (``chosen_logprob``,
  ``rejected_logprob``): DPO's reference, which then needs no pass of its own.
* ``sft_wrong_answers``: the SFT model's own greedy answer to the training prompt, where it is
  wrong (on-policy rejected). Where it is right, the pair falls back to the hardest wrong
  label (label and choice tasks) or to a degraded summary (summaries).
* ``degraded_summary``: the reference summary with key facts dropped, with a fact
  contradicted, the base model's own summary, or another training item's reference (the
  ``degradations`` list, rotated to a seeded start per item, ``other_reference`` always last);
  each is tried in turn until one grades below the reference.
* ``user_pairs``: the chosen and rejected answers the user's data brings in its columns
  (training rows without them make no pair).

Whatever the strategy, :func:`with_reference` then gives every pair both answers'
log-probabilities under the SFT model, where the strategy did not already, so DPO reads its
reference from the pairs and runs no reference pass of its own.

An item no strategy can pair is dropped, not fatal: ``PairContext.dropped`` lists it with
where it came from and why, :func:`pair_counts` makes the pairs job's ``counts.json``, and
:func:`check_enough_pairs` fails the job only when fewer than ``pairs.min_share`` of the
training items were paired.

The tokens the strategies and :func:`with_reference` run through the models add up in
``PairContext.tally``, which the pairs job's compute record is built from.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .data import normalised
from .inference import (
    TokenTally,
    answer_logprobs,
    generate_answers,
    render_completion,
    render_prompt,
)
from .scoring import candidate_logprobs, most_likely
from .tasks.base import Task
from .tasks.summary_degraders import contradict_fact, drop_key_facts
from .userdata import DataError, item_where

DEGRADATIONS = ("drop_key_facts", "contradict_fact", "base_summary", "other_reference")


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
    # Items no strategy could pair: id, where (file and row) and why, one entry each.
    dropped: list[dict] = field(default_factory=list)
    # The tokens the strategy and with_reference ran through the models (the SFT model's and
    # the base model's), added up as each call returns them: the job's compute record.
    tally: TokenTally = field(default_factory=TokenTally)


def _pair(ctx: PairContext, item: dict, strategy: str, rejected: str, **extra) -> dict:
    return {"id": item["id"], "strategy": strategy, "prompt": ctx.task.prompt_messages(item),
            "chosen": ctx.task.completion(item), "rejected": rejected, **extra}


def _is_correct(task: Task, item: dict, answer: str) -> bool:
    return task.score(item, answer)["score"] == task.score(item, task.gold(item))["score"]


def _hardest_wrong_pairs(ctx: PairContext, items: list[dict]) -> list[dict]:
    task = ctx.task
    for item in items:
        candidates = task.candidates(item)
        if not candidates or len(candidates) < 2:
            raise DataError(
                f"task {task.name!r}, item {item['id']!r}: hardest_wrong_label needs at least "
                f"two candidate answers, and this {task.kind} task's item has "
                f"{len(candidates or [])}; use sft_wrong_answers or degraded_summary instead")
    pairs = []
    ranked, tally = candidate_logprobs(ctx.model, ctx.tokenizer, task, items, ctx.batch_size)
    ctx.tally += tally
    for item, logprobs in zip(items, ranked, strict=True):
        wrong = {answer: lp for answer, lp in logprobs.items()
                 if not _is_correct(task, item, answer)}
        answer = most_likely(wrong)
        # The SFT model's log-probabilities of the pair's two texts exactly (the chosen is the
        # gold's text): DPO can take them as its reference (sftdpo.training).
        chosen_logprob = logprobs[task.gold(item)]
        pairs.append(_pair(ctx, item, "hardest_wrong_label", task.answer_text(item, answer),
                           rejected_answer=answer, chosen_logprob=chosen_logprob,
                           rejected_logprob=wrong[answer],
                           sft_prefers_rejected=wrong[answer] > chosen_logprob))
    return pairs


def hardest_wrong_label_pairs(ctx: PairContext) -> list[dict]:
    return _hardest_wrong_pairs(ctx, ctx.items)


def _grade(task: Task, item: dict, summary: str) -> int:
    return task.score(item, task.parse(summary, item))["score"]


def _other_reference(ctx: PairContext, item: dict, rng: random.Random, reference_grade: int):
    """Another training item's reference (a summary of the wrong note) that grades below this
    item's reference; None when every other reference says the same or grades as well."""
    own = normalised(ctx.task.completion(item))
    others = [other for other in ctx.items if other["id"] != item["id"]
              and normalised(ctx.task.completion(other)) != own]
    rng.shuffle(others)
    for other in others:
        rejected = ctx.task.completion(other)
        if _grade(ctx.task, item, rejected) < reference_grade:
            return rejected
    return None


def _try(ctx: PairContext, item: dict, name: str, rng: random.Random, base_summaries: dict,
         reference_grade: int) -> tuple[str | None, str]:
    """(rejected, "") from degradation ``name``, or (None, why it gave nothing)."""
    if name == "base_summary":
        rejected = base_summaries[item["id"]]
    elif name == "other_reference":
        rejected = _other_reference(ctx, item, rng, reference_grade)
        if rejected is None:
            return None, "other_reference: no other reference grades below this one"
    else:
        try:
            rejected = (drop_key_facts if name == "drop_key_facts" else contradict_fact)(item, rng)
        except ValueError as error:
            return None, f"{name}: {error}"
    if not rejected.strip():
        return None, f"{name}: empty"
    grade = _grade(ctx.task, item, rejected)
    if grade >= reference_grade:
        return None, f"{name}: grades {grade}, not below the reference's {reference_grade}"
    return rejected, ""


def degradation_orders(degradations: tuple[str, ...], n_items: int,
                       seed: int) -> list[list[str]]:
    """Per item, the order it tries the degradations in: the list rotated to a seeded
    starting point (so the kinds mix), with ``other_reference`` always last, as the one that
    exists for every dataset (the last resort, not a kind to mix in)."""
    rng = random.Random(seed)
    rotating = [name for name in degradations if name != "other_reference"]
    last = ["other_reference"] if "other_reference" in degradations else []
    orders = []
    for _ in range(n_items):
        start = rng.randrange(len(rotating)) if rotating else 0
        orders.append(rotating[start:] + rotating[:start] + last)
    return orders


@dataclass
class _Attempt:
    """One item's way through its degradations."""

    item: dict
    order: list[str]
    rng: random.Random
    reference_grade: int
    tried: int = 0
    reasons: list[str] = field(default_factory=list)


def _advance(ctx: PairContext, attempt: _Attempt, base_summaries: dict) -> dict | None:
    """Try the attempt's remaining degradations in turn: the pair of the first that grades
    below the reference; None when all are tried, or when the next needs a base summary that
    has not been generated yet."""
    item = attempt.item
    while attempt.tried < len(attempt.order):
        name = attempt.order[attempt.tried]
        if name == "base_summary" and item["id"] not in base_summaries:
            return None
        attempt.tried += 1
        rejected, problem = _try(ctx, item, name, attempt.rng, base_summaries,
                                 attempt.reference_grade)
        if rejected is not None:
            return _pair(ctx, item, f"degraded_summary:{name}", rejected,
                         rejected_grade=_grade(ctx.task, item, rejected),
                         chosen_grade=attempt.reference_grade)
        attempt.reasons.append(problem)
    return None


def degraded_summary_pairs(ctx: PairContext, items: list[dict] | None = None) -> list[dict]:
    """Every item tries every degradation of its order in turn and takes the first that grades
    below its reference; an item none can degrade goes to ``ctx.dropped``. The base model's
    summaries are generated, in one batch, for just the items that get as far as
    ``base_summary``."""
    items = ctx.items if items is None else items
    task = ctx.task
    attempts = [_Attempt(item, order, random.Random(f"{ctx.seed}:degrade:{item['id']}"),
                         task.score(item, task.completion(item))["score"])
                for item, order in zip(items, degradation_orders(ctx.degradations, len(items),
                                                                 ctx.seed), strict=True)]
    pairs = {}
    for attempt in attempts:
        if (pair := _advance(ctx, attempt, {})) is not None:
            pairs[attempt.item["id"]] = pair
    waiting = [a for a in attempts if a.item["id"] not in pairs and a.tried < len(a.order)]
    base_summaries = _base_summaries(ctx, [a.item for a in waiting])
    for attempt in waiting:
        if (pair := _advance(ctx, attempt, base_summaries)) is not None:
            pairs[attempt.item["id"]] = pair
    ctx.dropped += [{"id": a.item["id"], "where": item_where(a.item), "reasons": a.reasons}
                    for a in attempts if a.item["id"] not in pairs]
    return [pairs[item["id"]] for item in items if item["id"] in pairs]


def _base_summaries(ctx: PairContext, items: list[dict]) -> dict[str, str]:
    if not items:
        return {}
    model = ctx.load_base_model()
    answers, tally = generate_answers(model, ctx.tokenizer,
                                      [ctx.task.prompt_messages(item) for item in items],
                                      ctx.max_new_tokens, ctx.batch_size)
    ctx.tally += tally
    return {item["id"]: answer for item, answer in zip(items, answers, strict=True)}


def sft_wrong_answer_pairs(ctx: PairContext) -> list[dict]:
    task = ctx.task
    answers, tally = generate_answers(ctx.model, ctx.tokenizer,
                                      [task.prompt_messages(item) for item in ctx.items],
                                      ctx.max_new_tokens, ctx.batch_size)
    ctx.tally += tally
    pairs, right = [], []
    for item, answer in zip(ctx.items, answers, strict=True):
        if answer.strip() and not _is_correct(task, item, task.parse(answer, item)):
            pairs.append(_pair(ctx, item, "sft_wrong_answer", answer))
        else:
            right.append(item)
    if task.kind == "summary":
        pairs += degraded_summary_pairs(ctx, right)
    else:
        pairs += _hardest_wrong_pairs(ctx, right)
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


def with_reference(ctx: PairContext, pairs: list[dict], context_length: int) -> list[dict]:
    """``pairs`` with every pair's ``chosen_logprob`` and ``rejected_logprob`` under the SFT
    model (``ctx.model``), scored here where the strategy has not recorded them: the values
    TRL's reference pass would compute (tests/test_training.py), at the cost of scoring two
    answers after a prompt that runs once. Unchanged where any pair's prompt and answer exceed
    ``context_length`` tokens: DPO truncates that pair, so only its own pass gives the value.
    The scoring's tokens are added to ``ctx.tally``."""
    missing = [pair for pair in pairs if "chosen_logprob" not in pair]
    if not missing:
        return pairs
    tokenizer = ctx.tokenizer

    def length(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    for pair in missing:
        prompt = length(render_prompt(tokenizer, pair["prompt"]))
        if any(prompt + length(render_completion(tokenizer, pair["prompt"], pair[side]))
               > context_length for side in ("chosen", "rejected")):
            return pairs
    values, tally = answer_logprobs(ctx.model, tokenizer, [pair["prompt"] for pair in missing],
                                    [[pair["chosen"], pair["rejected"]] for pair in missing],
                                    ctx.batch_size)
    ctx.tally += tally
    scored = iter(values)
    return [pair if "chosen_logprob" in pair
            else pair | dict(zip(("chosen_logprob", "rejected_logprob"), next(scored),
                                 strict=True))
            for pair in pairs]


def pair_counts(ctx: PairContext, pairs: list[dict], strategy: str) -> dict:
    """The pairs summary: how many training items were paired, by what, and which were not."""
    return {"strategy": strategy, "training_items": len(ctx.items), "pairs": len(pairs),
            "by": dict(sorted(Counter(pair["strategy"] for pair in pairs).items())),
            "dropped": len(ctx.dropped), "dropped_items": ctx.dropped}


def check_enough_pairs(counts: dict, min_share: float, task: str, source: str) -> None:
    """DataError when fewer than ``min_share`` of the training items made a pair: too few for
    DPO to mean what the config says."""
    if counts["pairs"] >= min_share * counts["training_items"] and counts["pairs"] > 0:
        return
    shown = "; ".join(f"{d['where']}: {' / '.join(d['reasons'])}"
                      for d in counts["dropped_items"][:5])
    raise DataError(
        f"task {task!r} ({source}): {counts['pairs']} of {counts['training_items']} training "
        f"items made a preference pair, fewer than tasks.{task}.pairs.min_share "
        f"({min_share}) of them; {counts['dropped']} could not be paired, e.g. {shown}. "
        "Add degradations (other_reference exists for every dataset), bring pairs in the "
        "data's chosen/rejected columns, or lower min_share")


# A task's pairs.strategy names one of these.
PAIR_STRATEGIES: dict[str, Callable[[PairContext], list[dict]]] = {
    "hardest_wrong_label": hardest_wrong_label_pairs,
    "sft_wrong_answers": sft_wrong_answer_pairs,
    "degraded_summary": degraded_summary_pairs,
    "user_pairs": user_pairs,
}
