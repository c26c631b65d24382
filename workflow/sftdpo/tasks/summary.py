"""Summarization of clinical notes, graded 1-5 by a deterministic key-fact rubric, plus ROUGE-L.

An item is a note (``text``: a brief hospital course or a patient-portal message), a reference
summary (``reference``, 2-4 sentences) and its key facts (``key_facts``: short plain strings, the
facts a good summary must keep; the reference states every one of them). The model writes a
summary; :func:`~sftdpo.tasks.rubric.rubric_grade` (:mod:`sftdpo.tasks.rubric`, where the rubric
is set out exactly) grades it against the key facts, ROUGE-L compares it with the reference. An
optional LLM judge grades beside it (:mod:`sftdpo.judge`, config ``judge:``).


``SummaryTask.score`` uses ``max_words`` = the larger of ``SummaryTask.max_words`` (80) and 1.5
times the reference's words, capped at the note's words (or the reference's, where the
reference is the longer: :meth:`SummaryTask.word_limit`).

*Without key facts.* A dataset that has no key facts (no ``key_facts`` column) is graded
against its references' clauses (:func:`reference_facts`): every clause of the reference is a
fact, so grade 5 means the summary restates every clause of the reference, and a one-clause
reference ("Stable changes of COPD.") grades all or nothing. The table says which grading a
task used.

Parsing: the completion, stripped, without a leading "Summary:" label, whitespace collapsed. A
trailing fragment without end punctuation that reads as cut mid-sentence by ``max_new_tokens``
(it ends in a digit, a stopword or a joining mark: "Discharged on furosemide 4") is dropped
when a complete sentence precedes it; other unpunctuated endings are kept. None when nothing
with a letter is left.

Preference pairs: ``drop_key_facts`` (the reference without the sentences carrying a key fact)
and ``contradict_fact`` (the reference with one key fact contradicted), both in
:mod:`sftdpo.tasks.summary_degraders`, each checked to grade below the reference.

The built-in data: :func:`sftdpo.tasks.summary_notes.generate_notes` (see its docstring).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from sftdpo.tasks.base import Task
from sftdpo.tasks.rubric import (
    MAX_WORDS,
    PRE_NEGATIONS,
    STOPWORDS,
    _fact,
    fact_status,
    rubric_grade,
    word_count,
)
from sftdpo.tasks.summary_notes import generate_notes

# ----------------------------------------------------------------------------------------------
# ROUGE-L, parsing, key facts of an item
# ----------------------------------------------------------------------------------------------

_ROUGE = None


def rouge_l(prediction: str | None, reference: str) -> float:
    """ROUGE-L F-measure of ``prediction`` against ``reference`` (Google's rouge-score, Porter
    stemming); 0.0 without a prediction."""
    global _ROUGE
    if not prediction:
        return 0.0
    if _ROUGE is None:
        from rouge_score import rouge_scorer
        _ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(_ROUGE.score(reference, prediction)["rougeL"].fmeasure)


_LABEL = re.compile(r"^\s*[*#]*\s*(?:brief |short )?summary\s*[*#]*\s*:\s*[*#]*\s*", re.I)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


def parse_summary(completion: str) -> str | None:
    """The summary in a raw completion (the rule in the module docstring), or None."""
    text = " ".join(_LABEL.sub("", completion or "").split())
    if not re.search(r"[A-Za-z]", text):
        return None
    ends = list(_SENTENCE_END.finditer(text))
    if ends and ends[-1].end() < len(text) and _cut_off(text[ends[-1].end():]):
        text = text[: ends[-1].end()]
    return text


def _cut_off(fragment: str) -> bool:
    """Whether a trailing fragment without end punctuation reads as cut mid-sentence: it ends
    in a digit (a number may be cut: "furosemide 4"), a stopword or a joining mark."""
    fragment = fragment.rstrip()
    last = re.findall(r"[A-Za-z]+$", fragment)
    return (not fragment or fragment[-1].isdigit() or fragment[-1] in ",;:-/(+&"
            or (bool(last) and last[0].lower() in STOPWORDS | PRE_NEGATIONS))


def key_facts_of(item: dict) -> list[str]:
    """An item's key facts: a list of strings, or one string with one fact per line (else
    separated by " | " or ";"), as a user's CSV/JSONL may hold them. An item without any
    (``key_facts`` absent or None: a dataset that has none) has its reference's clauses
    (:func:`reference_facts`)."""
    facts = item.get("key_facts")
    if facts is None:
        facts = reference_facts(item["reference"])
        if not facts:
            raise ValueError(f"item {item.get('id')!r} has no key_facts, and its reference "
                             f"{item['reference']!r} has no clause with a content word")
        return facts
    if isinstance(facts, str):
        text = facts.strip()
        sep = "\n" if "\n" in text else "|" if "|" in text else ";"
        facts = text.split(sep)
    facts = [str(f).strip() for f in facts if str(f).strip()]
    if not facts:
        raise ValueError(f"item {item.get('id')!r} has no key facts")
    return facts


@lru_cache(maxsize=20_000)
def _reference_facts(reference: str) -> tuple[str, ...]:
    clauses = [clause.strip(" .!?") for sentence in _split_sentences(reference)
               for clause in re.split(r"[;:]\s+|,\s+", sentence)]
    facts: list[str] = []
    for clause in clauses:
        words = [word for word in _fact(clause).content if word[0].isalpha()]
        if words and clause not in facts and (
                fact_status(reference, clause) == "covered"):
            facts.append(clause)
    return tuple(facts)


def reference_facts(reference: str) -> list[str]:
    """Key facts for a summary item whose data has none: the reference's clauses (its
    sentences cut at ``; : ,``), each kept when it has a content word with a letter (not a list
    number such as "1.") and the rubric finds it
    covered in the reference itself, so the reference grades 5. A one-clause reference gives
    one fact: its grade is then all or nothing (5, or 1 when the clause is missing)."""
    return list(_reference_facts(reference))


def _split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(])", text.strip()) if s]


# ----------------------------------------------------------------------------------------------
# The task
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryTask(Task):
    """Free-text summary of a note, graded 1-5 by ``grader`` plus ROUGE-L. ``grader`` is the
    key-fact rubric: ``grader(summary, key_facts, *, source, max_words)`` returning at least
    ``grade``, ``facts_covered``, ``facts_total`` and ``contradictions``.

    Items: ``text`` (the note), ``reference`` (a reference summary), ``key_facts`` (see
    :func:`key_facts_of`). ``build_items`` makes the built-in data; None for a user's data.
    """

    kind: ClassVar[str] = "summary"
    default_pair_strategy: ClassVar[str] = "degraded_summary"
    default_max_new_tokens: ClassVar[int] = 96

    name: str
    family: str
    description: str
    instruction: str
    build_items: Callable[..., list[dict]] | None = None
    max_sentences: int = 4
    max_words: int = MAX_WORDS
    grader: Callable[..., dict] = rubric_grade
    stratify_fields: tuple[str, ...] = ("scenario",)
    group_field: str = "group"
    metrics: tuple[str, ...] = ("likert", "rouge_l")

    def gold(self, item: dict) -> str:
        return item["reference"]

    def prompt_messages(self, item: dict) -> list[dict]:
        ask = f"Summarize in at most {self.max_sentences} sentences."
        return [
            {"role": "system", "content": self.instruction},
            {"role": "user", "content": f"{item['text'].strip()}\n\n{ask}"},
        ]

    def completion(self, item: dict) -> str:
        return item["reference"]

    def parse(self, completion: str, item: dict | None = None) -> str | None:
        return parse_summary(completion)

    def word_limit(self, item: dict) -> int:
        """Words above which a summary of ``item`` is over-long: the larger of ``max_words``
        and 1.5 times the reference's words, but no more than the note's words, unless the
        reference is longer than its note (a real dataset's may be): then the reference's,
        so that the reference itself is never over-long."""
        reference = word_count(item["reference"])
        limit = max(self.max_words, math.ceil(1.5 * reference))
        if item.get("text"):
            limit = min(limit, max(word_count(item["text"]), reference))
        return limit

    def score(self, item: dict, parsed: str | None) -> dict:
        result = self.grader(parsed, key_facts_of(item), source=None,
                             max_words=self.word_limit(item))
        return {"score": int(result["grade"]),
                "rouge_l": rouge_l(parsed, item["reference"]) if parsed else 0.0,
                "facts_covered": int(result["facts_covered"]),
                "facts_total": int(result["facts_total"]),
                "contradictions": int(result["contradictions"])}

    def stratum(self, item: dict) -> str:
        """The ``stratify_fields`` the item has, joined; "all" when it has none."""
        return "|".join(str(item[f]) for f in self.stratify_fields if f in item) or "all"


HOSPITAL_COURSE = SummaryTask(
    name="hospital_course_summary",
    # Template family: split.by: group keeps each in one split (test = unseen families).
    group_field="scenario",
    family="summarization",
    description="Summarize a brief hospital course or a patient message in 2-4 sentences; "
                "graded 1-5 on key facts kept and contradicted, plus ROUGE-L.",
    instruction=("Summarize the clinical note for the next clinician. Keep the diagnosis, key "
                 "results (negative ones too), treatments, medication changes with doses, "
                 "follow-up and pending items. Add nothing that is not in the note."),
    build_items=generate_notes,
)
