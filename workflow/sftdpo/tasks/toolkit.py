"""The toolkit every built-in item generator is written with: settings checks, exact shares and
label plans, one template language, capitals, abbreviations, typos, and texts kept distinct
(the retry loop).

A generator draws everything from seeded ``random.Random`` objects, so the same settings and
seed give the same items; the helpers here draw from the generator they are given and from no
other.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

Draft = TypeVar("Draft")
T = TypeVar("T")
MAX_ATTEMPTS = 1000  # drafts tried per item before giving up on a new text

# --- settings ---------------------------------------------------------------------------------


def check_settings(n_items: int, **shares: float) -> None:
    """Raise ValueError unless ``n_items >= 0`` and every one of ``shares`` (a share or a rate,
    by its keyword) lies in [0, 1]."""
    if n_items < 0:
        raise ValueError(f"n_items must be >= 0, got {n_items}")
    bad = {name: value for name, value in shares.items() if not 0.0 <= value <= 1.0}
    if bad:
        raise ValueError(" and ".join(bad) + " must lie in [0, 1], got "
                         + ", ".join(str(value) for value in bad.values()))


def check_choice(name: str, value, choices: Sequence) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


# --- shares and plans -------------------------------------------------------------------------


def cycled(values: Sequence[T], n: int) -> list[T]:
    """``n`` values taken from ``values`` in turn: counts differ by at most one."""
    return [values[i % len(values)] for i in range(n)]


def exact_share(n: int, share: float, rng: random.Random) -> list[bool]:
    """``n`` flags in a shuffled order, ``round(n * share)`` of them True."""
    k = round(n * share)
    flags = [True] * k + [False] * (n - k)
    rng.shuffle(flags)
    return flags


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


# --- templates --------------------------------------------------------------------------------

_FIELD = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"(\d[\d,]*(?:\.\d+)?)-(\d[\d,]*(?:\.\d+)?)")
Values = Mapping[str, object] | Callable[[str], object]


def number_in(low: str, high: str, rng: random.Random) -> str:
    """A number from ``low`` to ``high`` written as they are: with their decimals, with
    thousands separators when they have one, in steps of the round numbers they are (10-90:
    any integer, 100-900: hundreds)."""
    decimals = len(low.split(".")[1]) if "." in low else 0
    lo, hi = float(low.replace(",", "")), float(high.replace(",", ""))
    if decimals:
        scale = 10 ** decimals
        return f"{rng.randint(round(lo * scale), round(hi * scale)) / scale:.{decimals}f}"
    zeros = min(len(s) - len(s.rstrip("0")) for s in (low.replace(",", ""),
                                                     high.replace(",", "")))
    step = 10 ** (zeros - 1) if zeros >= 2 else 1
    value = rng.randint(int(lo) // step, int(hi) // step) * step
    return f"{value:,}" if "," in low + high else str(value)


def fill(template: str, rng: random.Random, values: Values, *, once: bool = False) -> str:
    """The template language of the built-in generators. Each field, in order:

    * ``{name}``: ``values[name]`` (``values`` a mapping, or a function returning the value or
      None for a name it does not know), itself filled in turn: a value may hold fields;
    * ``{a-b}``: a number in the range (see :func:`number_in`);
    * ``{x|y}``: one of the choices, filled in turn.

    With ``once`` a name met twice in one template keeps the text it got first; otherwise each
    occurrence is filled anew. A field that is none of these is a KeyError.
    """
    lookup = values if callable(values) else values.get
    done: dict[str, str] = {}

    def sub(match: re.Match) -> str:
        key = match.group(1)
        if once and key in done:
            return done[key]
        value = lookup(key)
        if value is not None:
            text = fill(str(value), rng, values, once=once)
        elif number := _RANGE.fullmatch(key):
            text = number_in(number.group(1), number.group(2), rng)
        elif "|" in key:
            text = fill(rng.choice(key.split("|")), rng, values, once=once)
        else:
            raise KeyError(f"unknown field {{{key}}} in {template!r}")
        done[key] = text
        return text

    return _FIELD.sub(sub, template)


# --- capitals and abbreviations ---------------------------------------------------------------


def cap(text: str) -> str:
    """The first letter in upper case."""
    return text[:1].upper() + text[1:]


def decap(text: str) -> str:
    """The first letter in lower case, unless it starts an acronym (PTX, ETT), "I" or "Dr."."""
    if len(text) > 1 and text[0].isupper() and text[1].islower() and text[:3] != "Dr.":
        return text[0].lower() + text[1:]
    return text


def abbreviate(text: str, rng: random.Random, abbreviations: Sequence[tuple[str, str]],
               share: float, flags: int = 0) -> str:
    """Each match of each ``(pattern, short)`` replaced by ``short`` with probability
    ``share``, capitalised where the match is."""
    for pattern, short in abbreviations:
        def swap(m: re.Match, short: str = short) -> str:
            if rng.random() >= share:
                return m.group(0)
            return cap(short) if m.group(0)[0].isupper() else short
        text = re.sub(pattern, swap, text, flags=flags)
    return text


# --- typos ------------------------------------------------------------------------------------


def _has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


def add_typos(text: str, rate: float, rng: random.Random, *, words: str = r"\S+",
              keep: Callable[[str], bool] = _has_digit,
              runs: str | None = r"[A-Za-z][a-z]{2,}", spare: int = 1) -> str:
    """Swap two letters or drop one in a share ``rate`` of the ``words`` (a pattern) that
    ``keep`` does not protect (by default words holding a digit). The letters touched lie in a
    letter run of the word (``runs``, one drawn at random; None: the whole word), never its
    first letter nor its last ``spare`` ones."""
    def typo(match: re.Match) -> str:
        word = match.group(0)
        if keep(word) or rng.random() >= rate:
            return word
        if runs is None:
            start, end = 0, len(word)
        else:
            found = list(re.finditer(runs, word))
            if not found:
                return word
            run = rng.choice(found)
            start, end = run.start(), run.end()
        i = rng.randrange(start + 1, end - spare)
        if rng.random() < 0.5:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        return word[:i] + word[i + 1:]
    return re.sub(words, typo, text)


# --- distinct texts (the retry loop) ----------------------------------------------------------


class DistinctTexts:
    """The texts of one generator run, each new both before and after its typos.

    Typos (:func:`add_typos` at ``typo_rate``) for item ``i`` come from their own generator per
    attempt (seeded with ``seed``, ``i`` and the attempt), so the same seed gives the same
    drafts at every ``typo_rate``. A generator that writes its own typos passes 0.
    """

    def __init__(self, seed: int, typo_rate: float, noun: str) -> None:
        self.seed, self.typo_rate, self.noun = seed, typo_rate, noun
        self.clean: set[str] = set()
        self.typed: set[str] = set()

    def write(self, i: int, draft: Callable[..., Draft], *args,
              text_of: Callable[[Draft], str] = str, fits: Callable[[str], bool] | None = None,
              own_rng: bool = False) -> tuple[Draft, str]:
        """Call ``draft(*args)`` until its text (``text_of`` the draft) ``fits`` (when given)
        and is new without and with typos; record it and return the draft and its text with
        typos. With ``own_rng`` each attempt's draft gets a generator of its own as its first
        argument (seeded with ``seed``, ``i`` and the attempt). RuntimeError after
        ``MAX_ATTEMPTS`` attempts."""
        for attempt in range(MAX_ATTEMPTS):
            made = (draft(random.Random(f"{self.seed}:{i}:{attempt}"), *args) if own_rng
                    else draft(*args))
            clean = text_of(made)
            if fits is not None and not fits(clean):
                continue
            text = add_typos(clean, self.typo_rate,
                             random.Random(f"{self.seed}:typo:{i}:{attempt}")
                             ) if self.typo_rate else clean
            if clean not in self.clean and text not in self.typed:
                self.clean.add(clean)
                self.typed.add(text)
                return made, text
        raise RuntimeError(f"could not write a distinct {self.noun} for item {i} "
                           f"in {MAX_ATTEMPTS} attempts")
