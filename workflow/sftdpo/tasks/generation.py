"""Shared pieces of the built-in item generators: settings checks, label plans, typos, and
texts kept distinct before and after typos."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import TypeVar

Draft = TypeVar("Draft")
MAX_ATTEMPTS = 1000  # drafts tried per item before giving up on a new text


def check_settings(n_items: int, hard_share: float, typo_rate: float) -> None:
    """Raise ValueError unless ``n_items >= 0`` and ``hard_share`` and ``typo_rate`` lie in
    [0, 1]."""
    if n_items < 0:
        raise ValueError(f"n_items must be >= 0, got {n_items}")
    if not 0.0 <= hard_share <= 1.0 or not 0.0 <= typo_rate <= 1.0:
        raise ValueError(f"hard_share and typo_rate must lie in [0, 1]: {hard_share}, {typo_rate}")


def balanced_hard_plan(rng: random.Random, n_items: int, labels: tuple[str, str],
                       hard_share: float) -> list[tuple[str, bool]]:
    """Shuffled ``(label, hard)`` pairs: half of each label (a coin flip takes an odd item) and
    ``round(n_items * hard_share)`` hard items, split between the labels in proportion."""
    first, second = labels
    n_first = n_items // 2 + (n_items % 2 and rng.random() < 0.5)
    n_hard = round(n_items * hard_share)
    hard_first = min(n_first, round(n_hard * n_first / n_items)) if n_items else 0
    hard_second = n_hard - hard_first
    plan = ([(first, True)] * hard_first + [(first, False)] * (n_first - hard_first)
            + [(second, True)] * hard_second
            + [(second, False)] * (n_items - n_first - hard_second))
    rng.shuffle(plan)
    return plan


def add_typos(text: str, rate: float, rng: random.Random) -> str:
    """Swap or drop letters in a share ``rate`` of words; words holding a digit are left alone."""
    def typo(match: re.Match) -> str:
        word = match.group(0)
        if any(c.isdigit() for c in word) or rng.random() >= rate:
            return word
        runs = list(re.finditer(r"[A-Za-z][a-z]{2,}", word))
        if not runs:
            return word
        run = rng.choice(runs)
        i = rng.randrange(run.start() + 1, run.end() - 1)
        if rng.random() < 0.5:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        return word[:i] + word[i + 1:]
    return re.sub(r"\S+", typo, text)


class DistinctTexts:
    """The texts of one generator run, each new both before and after its typos.

    Typos for item ``i`` come from their own generator per attempt (seeded with ``seed``, ``i``
    and the attempt), so the same seed gives the same drafts at every ``typo_rate``.
    """

    def __init__(self, seed: int, typo_rate: float, noun: str) -> None:
        self.seed, self.typo_rate, self.noun = seed, typo_rate, noun
        self.clean: set[str] = set()
        self.typed: set[str] = set()

    def write(self, i: int, draft: Callable[..., Draft], *args,
              text_of: Callable[[Draft], str] = str) -> tuple[Draft, str]:
        """Call ``draft(*args)`` until its text (``text_of`` the draft) is new without and with
        typos; record it and return the draft and its text with typos."""
        for attempt in range(MAX_ATTEMPTS):
            made = draft(*args)
            clean = text_of(made)
            text = add_typos(clean, self.typo_rate,
                             random.Random(f"{self.seed}:typo:{i}:{attempt}"))
            if clean not in self.clean and text not in self.typed:
                self.clean.add(clean)
                self.typed.add(text)
                return made, text
        raise RuntimeError(f"could not write a distinct {self.noun} for item {i} "
                           f"in {MAX_ATTEMPTS} attempts")
