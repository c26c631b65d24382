"""The deterministic key-fact rubric that grades a summary 1-5 (:func:`rubric_grade`), used
by the summarisation task (:mod:`sftdpo.tasks.summary`) and its degraders.

The rubric, exactly
-------------------
*Words.* Text is lower-cased and lightly normalised: a fixed table (``PHRASES``; it,
``STOPWORDS`` and ``DRUGS`` are in ``data/rubric.yaml``) maps abbreviations, brand names and set
phrases to one spelling ("twice daily" = "b.i.d." = "BID", "Lasix" = "furosemide", "f/u" =
"follow-up", "RLL" = "right lower lobe", "leg" = "lower extremity", "CHF exacerbation" = "acute
decompensated heart failure", "no growth" = "negative"); number words become digits ("two" =
"2"), "x5" becomes "for 5", "n't" becomes "not". Words are Porter-stemmed. Stopwords and
reporting verbs ("was", "showed", "noted", "given", "status post") are dropped; the rest,
numbers and units included, are *content words*.

*Negation.* Cues are not content words; they negate the content words in their scope. Before
the term: "no", "not", "without", "denies", "never", "none", "negative for" (``PRE_NEGATIONS``);
scope: the next 5 content words. After the term: "negative", "ruled out", "resolved",
"absent", "normal", "unremarkable"; scope: the 4 content words before. A scope stops at
punctuation (``. ! ? ; , :`` and brackets), at a cue of the first kind, and at a word such as
"and", "but", "on", "with", "after", "started" (``SCOPE_ENDS``; going forward, only once a
content word is in scope). Not cues: a cue before "change", "only", "difficulty"; "net
negative", "gram negative". The negated word next to its cue is the cue's *head*.

*Windows.* A summary is cut into clauses at ``. ! ? ;`` and line breaks. A key fact's *clause*
is the clause holding most of its content words; its *window* is the clause, or two
consecutive clauses, holding most of them (ties: one clause before two, then the earliest).

*Numbers.* A number's unit is the unit word right after it (mg, units, %, days, weeks, L, ...);
its anchors are the up to 3 content words before it in its clause (else after it), units and
dose words (BID, daily, PO, started, increased ...) excluded: "furosemide 40 mg" -> unit mg,
anchor furosemide. A number *is given* in a window when the same value appears there with the
same unit, or without a unit on either side.

A fact is **contradicted** when its clause holds at least half of its content words and
  (a) the fact negates words and one of them appears in the clause, only un-negated ("no PE
      on CTA" -> "CTA showed PE"); or the fact negates nothing and some of its words appear in
      the clause only negated, one of them as a head or they make up at least half of its
      matched words ("iron studies pending" -> "iron studies not pending");
  (b) one of the fact's numbers is not given in the clause, while the clause gives another
      number (none of the fact's) with the same unit (or both none) and a shared anchor
      ("furosemide 40 mg BID" -> "furosemide 80 mg BID");
  (c) the fact names a side of an opposed pair (``AXES``) and the clause names another side
      of it but not the fact's: left / right / bilateral; increased / decreased; started,
      continued, resumed / stopped, held, discontinued; improved / worsened.

A fact is **covered** when it is not contradicted and its window holds at least 60% of its
content words and all of its critical words: every number (given, as above), every drug name
(``DRUGS``) and its laterality (left / right / bilateral). Otherwise it is **missing**.

*Grade.* From coverage f = covered / total facts: f = 1 -> 5, f >= 0.75 -> 4, f >= 0.5 -> 3,
f >= 0.25 -> 2, else 1. Each contradicted fact costs one grade; an over-long summary (more than
``max_words`` words, or more words than the note when the note is given) costs one; the grade
never goes below 1. No summary (None, empty, no letters) is grade 1 with nothing covered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sftdpo.tasks.tables import Table

# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------

# The word tables (data/rubric.yaml): PHRASES, [regex on lower-cased text, replacement] applied
# in order; STOPWORDS; DRUGS.
_TABLE = Table("rubric")
PHRASES: tuple[tuple[str, str], ...] = _TABLE.get("phrases", tuple[tuple[str, str], ...])
STOPWORDS = frozenset(_TABLE.get("stopwords", str).split())
DRUGS = frozenset(_TABLE.get("drugs", str).split())
_TABLE.done()
_PHRASES = tuple((re.compile(p), r) for p, r in PHRASES)

NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11",
                "twelve": "12", "fourteen": "14", "twenty": "20", "thirty": "30"}

# Units that name what a number measures (after normalisation and stemming).
UNITS = frozenset({"mg", "mcg", "g", "kg", "lb", "l", "ml", "unit", "%", "meq", "mmol", "mmhg",
                   "day", "week", "month", "hour", "minut", "year", "cm", "mm", "bpm", "dl"})
# Frequency and route words: never a number's anchor (they follow many drugs alike).
_DOSE_WORDS = frozenset({"bid", "tid", "qid", "daili", "qh", "po", "iv", "prn", "sc", "total",
                         "dose", "new", "home", "ad", "add", "start", "continu", "increas",
                         "decreas", "reduc"})

# Opposed sides: axis -> {side: words (lower-case surface forms)}.
AXES: dict[str, dict[str, tuple[str, ...]]] = {
    "side": {"left": ("left", "l"), "right": ("right", "r"), "both": ("bilateral",)},
    "dose": {"up": ("increased", "increase", "increasing", "uptitrated", "raised"),
             "down": ("decreased", "decrease", "decreasing", "reduced", "reduce", "lowered",
                      "tapered", "downtitrated")},
    "on_off": {"on": ("started", "start", "starting", "initiated", "added", "continued",
                      "continue", "resumed", "resume", "restarted", "restart", "begun"),
               "off": ("stopped", "stop", "stopping", "discontinued", "discontinue", "held",
                       "hold", "holding")},
    "course": {"better": ("improved", "improving", "better"),
               "worse": ("worsened", "worsening", "worse")},
}
_SIDE_OF = {w: (axis, side) for axis, sides in AXES.items()
            for side, words in sides.items() for w in words}
OPPOSITE_WORDS = {"left": "right", "right": "left", "increased": "decreased",
                  "decreased": "increased", "reduced": "increased", "started": "stopped",
                  "initiated": "stopped", "added": "stopped", "continued": "held",
                  "resumed": "held", "restarted": "held", "held": "continued",
                  "stopped": "continued", "discontinued": "continued", "improved": "worsened",
                  "worsened": "improved", "bilateral": "left"}

PRE_NEGATIONS = frozenset({"no", "not", "without", "denies", "denied", "deny", "denying", "never",
                           "neither", "nor", "cannot", "none"})
PSEUDO_NEGATED = frozenset({"change", "changes", "changed", "only", "difficulty", "necessarily"})
POST_NEGATIONS = frozenset({"negative", "ruledout", "resolved", "absent", "normal",
                            "unremarkable"})
# Words that end a negation's scope once a content word is in it.
SCOPE_ENDS = frozenset({"and", "but", "however", "although", "though", "except", "which", "who",
                        "whereas", "while", "then", "on", "at", "after", "since", "so",
                        "because", "due", "with", "when", "as", "started", "start", "continued",
                        "discontinued", "stopped", "held", "resumed"})
PRE_SCOPE, POST_SCOPE = 5, 4

COVERAGE_SHARE = 0.6  # a fact is covered when its window holds this share of its content words
MAX_WORDS = 80  # a summary with more words is over-long (SummaryTask.max_words)

_TOKEN = re.compile(
    r"(?P<num>(?<![\w.])\.\d+|\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:\.\d+)?)"
    r"|(?P<word>[a-z][a-z0-9]*(?:'[a-z]+)?)"
    r"|(?P<stop>[.!?;\n])"
    r"|(?P<pct>%)"
    r"|(?P<clause>[,:()\[\]]|--|->|—|–)"
)


@lru_cache(maxsize=1)
def _stemmer():
    # Imported on first use: nltk takes ~2 s to import, and most jobs never grade a summary.
    from nltk.stem.porter import PorterStemmer  # nltk comes with rouge-score

    return PorterStemmer()


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return _stemmer().stem(word) if len(word) > 3 else word


@dataclass(slots=True)
class _Tok:
    kind: str  # "w" word, "n" number, "c" clause boundary, "s" sentence boundary
    raw: str  # lower-cased, normalised surface form
    norm: str  # what matching compares: stem, canonical number, or the boundary
    clause: int = 0
    neg: bool = False
    content: bool = False
    head: bool = False  # the negated word next to its cue


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    for pattern, repl in _PHRASES:
        text = pattern.sub(repl, text)
    return text


def _number(raw: str) -> str:
    value = float(raw.replace(",", ""))
    return f"{value:g}" if value != int(value) else str(int(value))


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[_Tok, ...]:
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(_normalise(text)):
        kind = m.lastgroup
        raw = m.group(0)
        if kind == "num":
            toks.append(_Tok("n", raw, _number(raw), content=True))
        elif kind == "word":
            raw = NUMBER_WORDS.get(raw, raw)
            if raw.endswith("n't") or raw == "cannot":  # "haven't", "didn't": a negation
                raw = "not"
            if raw.isdigit():
                toks.append(_Tok("n", raw, raw, content=True))
                continue
            prev_num = bool(toks) and toks[-1].kind == "n"
            if raw == "l" and not prev_num:  # "L knee": laterality, not litres
                raw = "left"
            elif raw == "r" and not prev_num:
                raw = "right"
            norm = _stem(raw)
            content = (raw not in STOPWORDS and raw not in PRE_NEGATIONS
                       and raw not in POST_NEGATIONS and norm not in STOPWORDS)
            toks.append(_Tok("w", raw, norm, content=content))
        elif kind == "pct":
            toks.append(_Tok("w", "%", "%", content=True))
        else:
            toks.append(_Tok("s" if kind == "stop" else "c", raw, raw))
    clause = 0
    for tok in toks:
        if tok.kind == "s":
            clause += 1
        tok.clause = clause
    _mark_negation(toks)
    return tuple(toks)


def _mark_negation(toks: list[_Tok]) -> None:
    """NegEx-like scopes: a cue negates the content words after it (or before it)."""
    for i, tok in enumerate(toks):
        if tok.kind != "w":
            continue
        nxt = toks[i + 1].raw if i + 1 < len(toks) else ""
        prev = toks[i - 1].raw if i else ""
        if nxt in PSEUDO_NEGATED or (tok.raw == "negative" and prev in ("net", "gram")):
            continue  # "no change in", "not only", "net negative 2 L", "gram negative rods"
        pre = tok.raw in PRE_NEGATIONS or (tok.raw == "negative" and nxt == "for")
        post = tok.raw in POST_NEGATIONS and not pre
        if pre:
            seen, steps, j = False, 0, i + 1
            while j < len(toks) and steps < PRE_SCOPE:
                t = toks[j]
                if t.kind in "sc" or t.raw in PRE_NEGATIONS or (seen and t.raw in SCOPE_ENDS):
                    break
                if t.content:
                    t.neg, t.head, seen = True, t.head or not seen, True
                    steps += 1
                j += 1
        elif post:
            steps, j = 0, i - 1
            while j >= 0 and steps < POST_SCOPE:
                t = toks[j]
                if t.kind in "sc" or t.raw in SCOPE_ENDS or t.raw in PRE_NEGATIONS:
                    break
                if t.content:
                    t.neg, t.head = True, t.head or steps == 0
                    steps += 1
                j -= 1


# ----------------------------------------------------------------------------------------------
# Facts and the rubric
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fact:
    content: frozenset[str]
    numbers: tuple[tuple[str, str, frozenset[str]], ...]  # (value, unit, anchors)
    drugs: frozenset[str]
    sides: frozenset[tuple[str, str]]
    negated: frozenset[str]  # content words the fact negates


def _unit_after(toks: Sequence[_Tok], i: int) -> str:
    if i + 1 < len(toks) and toks[i + 1].kind == "w" and toks[i + 1].norm in UNITS:
        return toks[i + 1].norm
    return ""


def _anchors(toks: Sequence[_Tok], i: int) -> frozenset[str]:
    """Content words naming what the number at ``i`` measures: up to 3 before it in its
    clause, else up to 3 after it."""
    def grab(indices) -> list[str]:
        found = []
        for j in indices:
            t = toks[j]
            if t.kind in "sc" or len(found) == 3:
                break
            if (t.kind == "w" and t.content and t.norm not in UNITS
                    and t.norm not in _DOSE_WORDS):
                found.append(t.norm)
        return found
    before = grab(range(i - 1, max(i - 6, -1), -1))
    return frozenset(before or grab(range(i + 1, min(i + 7, len(toks)))))


def _sides(toks: Sequence[_Tok]) -> frozenset[tuple[str, str]]:
    return frozenset(_SIDE_OF[t.raw] for t in toks if t.kind == "w" and t.raw in _SIDE_OF)


@lru_cache(maxsize=20_000)
def _fact(text: str) -> _Fact:
    toks = _tokens(text)
    numbers = tuple((t.norm, _unit_after(toks, i), _anchors(toks, i))
                    for i, t in enumerate(toks) if t.kind == "n")
    return _Fact(
        content=frozenset(t.norm for t in toks if t.content),
        numbers=numbers,
        drugs=frozenset(t.norm for t in toks if t.kind == "w" and t.raw in DRUGS),
        sides=_sides(toks),
        negated=frozenset(t.norm for t in toks if t.content and t.neg and t.kind == "w"),
    )


def _windows(toks: Sequence[_Tok]) -> tuple[list[list[_Tok]], list[list[_Tok]]]:
    """The summary's clauses, and the pairs of consecutive clauses."""
    clauses: dict[int, list[_Tok]] = {}
    for t in toks:
        if t.kind != "s":
            clauses.setdefault(t.clause, []).append(t)
    ordered = [c for _, c in sorted(clauses.items()) if c]
    return ordered, [a + b for a, b in zip(ordered, ordered[1:], strict=False)]


def _best_window(fact: _Fact, windows: list[list[_Tok]]) -> tuple[list[_Tok], set[str]]:
    best: list[_Tok] = []
    best_matched: set[str] = set()
    for window in windows:  # clauses first, then pairs: a strict > keeps the earliest, shortest
        matched = {t.norm for t in window if t.content} & fact.content
        if len(matched) > len(best_matched):
            best, best_matched = window, matched
    return best, best_matched


def _numbers(toks: Sequence[_Tok]) -> list[tuple[str, str, frozenset[str]]]:
    return [(t.norm, _unit_after(toks, i), _anchors(toks, i))
            for i, t in enumerate(toks) if t.kind == "n"]


def _has_number(numbers: list[tuple[str, str, frozenset[str]]], value: str, unit: str) -> bool:
    """Whether ``value`` is given with ``unit`` (or with no unit where either has none)."""
    return any(v == value and (u == unit or not u or not unit) for v, u, _ in numbers)


def _contradiction(fact: _Fact, window: list[_Tok], matched: set[str]) -> str | None:
    """Why the window contradicts the fact, or None."""
    if not fact.content or len(matched) < 0.5 * len(fact.content):
        return None
    words = [t for t in window if t.kind == "w" and t.content]
    # (a) negation flipped
    polarity: dict[str, set[bool]] = {}
    for t in words:
        polarity.setdefault(t.norm, set()).add(t.neg)
    for norm in sorted(fact.negated):
        if polarity.get(norm) == {False}:
            return f"negation dropped: {norm}"
    if not fact.negated:
        flipped = sorted(n for n in matched if polarity.get(n) == {True})
        heads = {t.norm for t in words if t.head}
        words_matched = [n for n in matched if not n[0].isdigit()]
        if flipped and (heads & set(flipped) or len(flipped) >= 0.5 * len(words_matched)):
            return f"negation added: {', '.join(flipped)}"
    # (b) a different number for the same quantity
    fact_values = {v for v, _, _ in fact.numbers}
    window_numbers = _numbers(window)
    for value, unit, anchors in fact.numbers:
        if _has_number(window_numbers, value, unit):
            continue
        for other, other_unit, other_anchors in window_numbers:
            if other not in fact_values and other_unit == unit and anchors & other_anchors:
                return f"number {other} for {value}"
    # (c) an opposed side
    window_sides = _sides(window)
    for axis, side in sorted(fact.sides):
        here = {s for a, s in window_sides if a == axis}
        if here and side not in here:
            return f"{axis}: {', '.join(sorted(here))} for {side}"
    return None


def _covered(fact: _Fact, window: list[_Tok], matched: set[str]) -> bool:
    if not fact.content or len(matched) < COVERAGE_SHARE * len(fact.content):
        return False
    numbers = _numbers(window)
    if not all(_has_number(numbers, v, u) for v, u, _ in fact.numbers):
        return False
    if not fact.drugs <= {t.norm for t in window}:
        return False
    lateral = {s for s in fact.sides if s[0] == "side"}
    return lateral <= _sides(window)


def fact_status(summary: str, key_fact: str) -> str:
    """``"covered"``, ``"contradicted"`` or ``"missing"``: one key fact against a summary."""
    return _judge(_fact(key_fact), _windows(_tokens(summary)))[0]


def _judge(fact: _Fact, windows: tuple[list, list]) -> tuple[str, str | None]:
    """(status, reason): contradictions are read in the fact's best clause, coverage in its
    best clause or pair of clauses."""
    clauses, pairs = windows
    clause, matched = _best_window(fact, clauses)
    reason = _contradiction(fact, clause, matched)
    if reason:
        return "contradicted", reason
    window, matched = _best_window(fact, clauses + pairs)
    return ("covered" if _covered(fact, window, matched) else "missing"), None


def grade_from(covered: int, total: int, contradictions: int, over_long: bool) -> int:
    """The rubric's grade from its counts (the bands in the module docstring)."""
    share = covered / total if total else 0.0
    grade = 5 if share >= 1 else 4 if share >= 0.75 else 3 if share >= 0.5 else (
        2 if share >= 0.25 else 1)
    return max(1, grade - contradictions - int(over_long))


def word_count(text: str) -> int:
    return len(text.split())


def rubric_grade(summary: str | None, key_facts: Sequence[str], *, source: str | None = None,
                 max_words: int = MAX_WORDS) -> dict:
    """Grade ``summary`` 1-5 against ``key_facts`` (plain strings) by the module's rubric.

    Returns ``grade``, ``facts_covered``, ``facts_total``, ``contradictions``, ``over_long``
    (bool), ``words``, and per fact ``status`` ("covered", "contradicted", "missing") and
    ``reasons`` (why a fact is contradicted, else None). ``source`` is the note: a summary with
    more words than it is over-long, as is one with more than ``max_words``.
    """
    facts = [f for f in key_facts if f and f.strip()]
    if not facts:
        raise ValueError("rubric_grade needs at least one non-empty key fact")
    total = len(facts)
    if summary is None or not re.search(r"[A-Za-z]", summary):
        return {"grade": 1, "facts_covered": 0, "facts_total": total, "contradictions": 0,
                "over_long": False, "words": 0, "status": ["missing"] * total,
                "reasons": [None] * total}
    windows = _windows(_tokens(summary))
    status, reasons = [], []
    for text in facts:
        state, reason = _judge(_fact(text), windows)
        status.append(state)
        reasons.append(reason)
    words = word_count(summary)
    over_long = words > max_words or (source is not None and words > word_count(source))
    covered, contradictions = status.count("covered"), status.count("contradicted")
    return {"grade": grade_from(covered, total, contradictions, over_long),
            "facts_covered": covered, "facts_total": total, "contradictions": contradictions,
            "over_long": over_long, "words": words, "status": status, "reasons": reasons}
