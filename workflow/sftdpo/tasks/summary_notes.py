"""The built-in data of the summarisation task (``hospital_course_summary``): synthetic brief
hospital courses and patient-portal messages, each with a reference summary and its key facts.

:func:`generate_notes` is the entry point (see its docstring). Every note is written by one
scenario function of ``SCENARIOS`` (eleven hospital courses and four patient messages, in
:mod:`sftdpo.tasks.summary_scenarios`) from seeded draws; the note's layout, the distractors
and the typos are added here. The task
that grades the summaries is :mod:`sftdpo.tasks.summary`; drug names (the rubric's ``DRUGS``,
:mod:`sftdpo.tasks.rubric`) get no typos.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

from sftdpo.tasks.rubric import DRUGS
from sftdpo.tasks.summary_scenarios.case import NOTES_TABLE, _Case, _course_end, _Patient
from sftdpo.tasks.summary_scenarios.heart_lung import _afib, _chf, _copd, _pneumonia, _tia
from sftdpo.tasks.summary_scenarios.medicine import (
    _aki,
    _cellulitis,
    _dka,
    _gi_bleed,
    _hip_fracture,
    _pyelo,
)
from sftdpo.tasks.summary_scenarios.messages import _msg_glucose, _msg_hf, _msg_inr, _msg_postop
from sftdpo.tasks.toolkit import (
    DistinctTexts,
    abbreviate,
    add_typos,
    check_settings,
    cycled,
    fill,
)

# Scenario name -> builder; messages are the ``msg_`` ones.
SCENARIOS: dict[str, Callable[[random.Random, _Patient, str], _Case]] = {
    "heart_failure": _chf, "pneumonia": _pneumonia, "copd": _copd, "afib": _afib, "dka": _dka,
    "gi_bleed": _gi_bleed, "cellulitis": _cellulitis, "aki": _aki, "hip_fracture": _hip_fracture,
    "pyelonephritis": _pyelo, "tia": _tia,
    "msg_heart_failure": _msg_hf, "msg_glucose": _msg_glucose, "msg_postop": _msg_postop,
    "msg_warfarin": _msg_inr,
}
NOTE_SCENARIOS = tuple(s for s in SCENARIOS if not s.startswith("msg_"))
MESSAGE_SCENARIOS = tuple(s for s in SCENARIOS if s.startswith("msg_"))
# How a hard item departs from its scenario's plain note.
HARD_VARIANTS = ("negated_finding", "changed_plan", "distractor")



@dataclass(frozen=True)
class _Distractor:
    text: str
    clashes_with: str = ""  # a case whose ``avoid`` holds this tag gets no such detail


# Irrelevant details (tag, text): never part of a reference.
NOTE_DISTRACTORS: tuple[tuple[str, str], ...] = tuple(
    (d.clashes_with, d.text)
    for d in NOTES_TABLE.get("note_distractors", tuple[_Distractor, ...]))
MESSAGE_DISTRACTORS: tuple[str, ...] = NOTES_TABLE.get("message_distractors", tuple[str, ...])
_SECTION_LABELS: dict[str, tuple[str, ...]] = NOTES_TABLE.get("section_labels",
                                                              dict[str, tuple[str, ...]])
_NOTE_ABBREVIATIONS: tuple[tuple[str, str], ...] = NOTES_TABLE.get("abbreviations",
                                                                   tuple[tuple[str, str], ...])
NOTES_TABLE.done()
if set(_SECTION_LABELS) != {"course", "meds", "dispo", "fu", "pending"}:
    NOTES_TABLE.fail("section_labels", f"sections {', '.join(_SECTION_LABELS)}; expected "
                     "course, meds, dispo, fu and pending")


def _fill(template: str, r: random.Random) -> str:
    return fill(template, r, {
        "hgb": r.randint(98, 114) / 10, "mm": r.randint(3, 6), "year": r.randint(1995, 2021),
        "k": r.randint(1, 4), "lt": r.choice((50, 75, 88)), "b12": r.randint(320, 780),
        "day": r.randint(11, 28)})


def _with_distractors(case: _Case, r: random.Random, n: int) -> list[tuple[str, str]]:
    parts = list(case.parts)
    if case.message:
        pool = list(MESSAGE_DISTRACTORS)
    else:
        pool = [text for tag, text in NOTE_DISTRACTORS if tag not in case.avoid]
    for text in r.sample(pool, n):
        if case.message:  # anywhere in the body
            body = [i for i, (section, _) in enumerate(parts) if section == "body"]
            parts.insert(r.randint(body[0], body[-1] + 1), ("body", _fill(text, r)))
        else:  # in the second half of the course, never in the plan
            end = _course_end(parts)
            parts.insert(r.randint(max(2, end // 2), end), ("course", _fill(text, r)))
    return parts


def _layout(parts: list[tuple[str, str]], r: random.Random, message: bool) -> str:
    if message:
        sep = r.choice((" ", " ", "\n"))
        body = " ".join(t for s, t in parts if s == "body")
        return sep.join(t for t in ([p[1] for p in parts if p[0] == "open"] + [body]
                                    + [p[1] for p in parts if p[0] == "close"]) if t)
    if r.random() < 0.5:  # one paragraph
        header = r.choice(("", "Brief hospital course: ", "HOSPITAL COURSE: ",
                           "Hospital course: "))
        text = header + " ".join(t for _, t in parts)
    else:  # sections
        lines = []
        for section in ("course", "meds", "dispo", "fu", "pending"):
            members = ("hpi", "course") if section == "course" else (section,)
            sentences = [t for s, t in parts if s in members]
            if sentences:
                lines.append(f"{r.choice(_SECTION_LABELS[section])} {' '.join(sentences)}")
        text = "\n".join(lines)
    return abbreviate(text, r, _NOTE_ABBREVIATIONS, 0.5)


def _typos(text: str, rate: float, r: random.Random) -> str:
    """Swap or drop a letter in a share ``rate`` of lower-case words of 5+ letters (not drug
    names): clinicians misspell words, rarely the drug or a number."""
    return add_typos(text, rate, r, words=r"(?<![\w/-])[a-z]{5,}(?![\w/-])",
                     keep=DRUGS.__contains__, runs=None, spare=2)


def _casual(text: str, r: random.Random) -> str:
    """Patient-message register: some write without capitals or with 'u', 'pls'."""
    if r.random() < 0.2:
        text = text.lower()
    if r.random() < 0.3:
        text = re.sub(r"\bplease\b", "pls", text)
        text = re.sub(r"\byou\b", "u", text)
    return text


def generate_notes(n_items: int, seed: int, hard_share: float = 0.3, noise: float = 0.02,
                   message_share: float = 0.25) -> list[dict]:
    """``n_items`` distinct notes with a reference summary and its key facts.

    A share ``message_share`` are patient-portal messages (``MESSAGE_SCENARIOS``), the rest
    brief hospital courses (``NOTE_SCENARIOS``); scenarios are balanced within each (counts
    differ by at most one). A share ``hard_share`` are hard cases, their variants balanced:
    ``negated_finding`` (a negative result the summary must keep negative: "CTA negative for
    PE"), ``changed_plan`` (a plan or dose changed mid-course; only the final one is a key
    fact, the note gives the first plan too, often with its dose) and ``distractor`` (two or
    three irrelevant details, some with numbers). Any item may carry one irrelevant detail.
    ``noise`` is the share of longer lower-case words given a typo (never a drug name or a
    number). Shares are exact up to rounding. Items: ``id``, ``text``, ``reference``,
    ``key_facts`` (4-6), ``scenario``, ``hard`` (bool), ``variant`` ("" when not hard).
    """
    check_settings(n_items, hard_share=hard_share, noise=noise, message_share=message_share)
    rng = random.Random(seed)
    n_messages = round(n_items * message_share)
    scenarios = (cycled(MESSAGE_SCENARIOS, n_messages)
                 + cycled(NOTE_SCENARIOS, n_items - n_messages))
    rng.shuffle(scenarios)
    n_hard = round(n_items * hard_share)
    variants = cycled(HARD_VARIANTS, n_hard) + [""] * (n_items - n_hard)
    rng.shuffle(variants)

    items, texts = [], DistinctTexts(seed, 0.0, "note")  # _item writes the typos
    for i in range(n_items):
        item, _ = texts.write(i, _item, scenarios[i], variants[i], noise,
                              text_of=itemgetter("text"), own_rng=True)
        items.append({"id": f"note-{i:05d}", **item})
    return items


def _item(r: random.Random, scenario: str, variant: str, noise: float) -> dict:
    patient = _Patient(r.randint(42, 91), r.random() < 0.5)
    case = SCENARIOS[scenario](r, patient, variant)
    n_distractors = (r.randint(2, 3) if variant == "distractor"
                     else int(r.random() < 0.3))
    parts = _with_distractors(case, r, n_distractors)
    text = _layout(parts, r, case.message)
    if case.message:
        text = _casual(text, r)
    # typos from their own generator: the same seed gives the same notes at every noise level
    text = _typos(text, noise, random.Random(f"typos:{text}"))
    return {"text": text, "reference": " ".join(case.ref), "key_facts": list(case.facts),
            "scenario": scenario, "hard": bool(variant), "variant": variant}
