"""The token counts a job's memory grows with (:class:`Lengths`), counted in the job's own
data with the model's tokenizer (the ``tokenizers`` library alone: no transformers import), or
bounds from the config where the data is not built yet (:func:`bound_lengths`)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Tokens around each chat message (role markers) and the generation prompt, where a prompt's
# length is counted without rendering its chat template (:func:`data_lengths`).
MESSAGE_TOKENS = 6
# The longest items' lengths a Lengths keeps (SFT's batches grouped by length).
LONGEST_KEPT = 256


@dataclass(frozen=True)
class Lengths:
    """The token counts a job's memory grows with: its longest prompt and answer (a batch
    pads to its longest row), their means (the other rows of a batch drawn at random), the
    start every prompt shares (the task's system turn: packed rows run it once), the longest
    items' lengths, and for likelihood scoring the widest row of candidate answers.
    ``measured``: counted in the job's data; else bounds from the config (``context_length``
    and the answer budget), which the data can only stay under."""

    prompt: int
    answer: int
    prompt_mean: float | None = None
    answer_mean: float | None = None
    shared: int = 0
    scored: int = 0
    measured: bool = False
    # The longest items' prompt and answer tokens together, longest first (up to
    # LONGEST_KEPT): SFT's batches grouped by length put the longest together.
    longest: tuple[int, ...] = ()

    @property
    def sequence(self) -> int:
        return self.prompt + self.answer

    @property
    def mean_prompt(self) -> float:
        return self.prompt if self.prompt_mean is None else self.prompt_mean

    @property
    def mean_answer(self) -> float:
        return self.answer if self.answer_mean is None else self.answer_mean


def bound_lengths(context_length: int, answer_budget: int, candidates: int = 0) -> Lengths:
    """Items as long as the context allows: the answer budget, the prompt the rest; likelihood
    scoring of ``candidates`` answers of up to the budget each."""
    answer = min(answer_budget, context_length)
    return Lengths(prompt=max(1, context_length - answer), answer=answer,
                   scored=candidates * answer)


@lru_cache(maxsize=8)
def _tokenizer(path: str, mtime: float):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def token_counter(model_dir: str | Path | None) -> Callable[[str], int]:
    """Counts a text's tokens with the model's fast tokenizer (tokenizer.json, read by the
    ``tokenizers`` library alone: no transformers import); about 3.5 characters a token where
    the folder has none."""
    path = Path(model_dir) / "tokenizer.json" if model_dir else None
    if path is not None and path.is_file():
        tokenizer = _tokenizer(str(path), path.stat().st_mtime)
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
    return lambda text: math.ceil(len(text) / 3.5)


def prompt_text(messages: Iterable[Mapping]) -> str:
    """A chat prompt as one text, each message after its role: what its tokens are counted on
    (:func:`prompt_tokens`), without rendering the model's chat template."""
    return "".join(f"{m.get('role', '')}\n{m.get('content', '')}\n" for m in messages)


def prompt_tokens(count: Callable[[str], int], messages: list[Mapping]) -> int:
    """A chat prompt's tokens: its messages' and the chat template's markers around each."""
    return sum(count(str(m.get("content", ""))) + MESSAGE_TOKENS for m in messages) + 3


def _shared_tokens(count: Callable[[str], int], texts: list[str]) -> int:
    """Tokens of the start every prompt shares (cut back to a word), with the chat template's
    markers before it."""
    if len(texts) < 2:
        return 0
    shared = os.path.commonprefix(texts)
    shared = shared[: shared.rfind(" ") + 1] if " " in shared else ""
    return count(shared) + MESSAGE_TOKENS if shared else 0


def _read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _lengths(prompts: list[int], answers: list[int], shared: int, scored: int = 0) -> Lengths:
    if not prompts:
        return Lengths(prompt=1, answer=1, measured=True)
    longest = sorted((p + a for p, a in zip(prompts, answers, strict=True)), reverse=True)
    return Lengths(prompt=max(prompts), answer=max(answers),
                   prompt_mean=sum(prompts) / len(prompts),
                   answer_mean=sum(answers) / len(answers),
                   shared=shared, scored=scored, measured=True,
                   longest=tuple(longest[:LONGEST_KEPT]))


def item_lengths(task, items: list[Mapping], count: Callable[[str], int],
                 candidates: bool = False) -> Lengths:
    """The :class:`Lengths` of a split's ``items`` of ``task``: prompts, reference answers
    (the completion SFT teaches), and with ``candidates`` the widest row of candidate answers
    (every candidate's assistant text after the prompt, as likelihood scoring runs them)."""
    prompts, answers, texts, scored = [], [], [], 0
    for item in items:
        messages = task.prompt_messages(item)
        prompts.append(prompt_tokens(count, messages))
        texts.append(prompt_text(messages))
        answers.append(count(task.completion(item)) + 2)
        if candidates:
            scored = max(scored, sum(count(task.answer_text(item, option)) + 2
                                     for option in task.candidates(item) or []))
    return _lengths(prompts, answers, _shared_tokens(count, texts), scored)


def pair_lengths(pairs: list[Mapping], count: Callable[[str], int]) -> Lengths:
    """The :class:`Lengths` of DPO's pairs: prompts, and the longer answer of each pair."""
    prompts = [prompt_tokens(count, pair["prompt"]) for pair in pairs]
    answers = [max(count(str(pair[side])) + 2 for side in ("chosen", "rejected"))
               for pair in pairs]
    shared = _shared_tokens(count, [prompt_text(pair["prompt"]) for pair in pairs])
    return _lengths(prompts, answers, shared)


_LENGTHS_CACHE: dict[tuple, Lengths] = {}


def data_lengths(kind: str, path: str | Path, model_dir: str | Path | None,
                 task=None, candidates: bool = False) -> Lengths:
    """The :class:`Lengths` of a split file (``kind`` "items": a task's items) or a pairs file
    (``kind`` "pairs"), counted with the model's tokenizer; remembered per file version."""
    path = Path(path)
    key = (kind, str(path.resolve()), path.stat().st_mtime_ns, str(model_dir),
           getattr(task, "name", None), repr(getattr(task, "labels", None)), candidates)
    if key not in _LENGTHS_CACHE:
        count = token_counter(model_dir)
        rows = _read_jsonl(path)
        _LENGTHS_CACHE[key] = (pair_lengths(rows, count) if kind == "pairs"
                               else item_lengths(task, rows, count, candidates))
    return _LENGTHS_CACHE[key]
