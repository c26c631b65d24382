"""What a scenario builds (a :class:`_Case`: the note's parts, the reference and its key
facts) for a :class:`_Patient`, and the small helpers every scenario writes with."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sftdpo.tasks.tables import Table

# The generator's data file: messages.py and summary_notes.py take their sections from it;
# summary_notes.py, imported last, checks that every section was read.
NOTES_TABLE = Table("summary_notes")


@dataclass
class _Case:
    parts: list[tuple[str, str]]  # (section, sentence) of the note, in order
    ref: list[str]  # reference sentences
    facts: list[str]
    message: bool = False
    avoid: tuple[str, ...] = ()  # distractor tags that would clash with the case


@dataclass(frozen=True)
class _Patient:
    age: int
    male: bool

    @property
    def sex(self) -> str:
        return "M" if self.male else "F"

    @property
    def man(self) -> str:
        return "man" if self.male else "woman"


def _who(r: random.Random, p: _Patient) -> str:
    return r.choice((f"{p.age}{p.sex}", f"{p.age} y/o {p.sex}", f"{p.age}yo {p.sex}",
                     f"{p.age} yo {p.man}", f"{p.age}-year-old {p.man}",
                     f"Pt is {'an' if str(p.age)[0] == '8' else 'a'} {p.age} y/o {p.man}"))


def _who_ref(r: random.Random, p: _Patient) -> str:
    return r.choice((f"{p.age}-year-old {p.man}", f"{p.age}{p.sex}"))


def _pmh(r: random.Random, options: tuple[str, ...], k: tuple[int, int] = (1, 3)) -> str:
    chosen = r.sample(options, r.randint(*k))
    return ", ".join(chosen[:-1]) + (" and " if len(chosen) > 1 else "") + chosen[-1]


def _c(r: random.Random, *options: str) -> str:
    return r.choice(options)


def _days(r: random.Random, lo: int = 2, hi: int = 6) -> int:
    return r.randint(lo, hi)


def _details(parts: list, r: random.Random, details: list[str], k: tuple[int, int] = (3, 4),
             at: int = 1) -> None:
    """Insert ``k`` of ``details`` (vitals, exam, labs: true but not key). In a message they
    go at ``at`` in order; in a note the first two (arrival vitals, exam) go right after the
    admission sentence and the others anywhere later in the course."""
    chosen = sorted(r.sample(range(len(details)), r.randint(*k)))
    if not isinstance(parts[0], tuple):
        for offset, i in enumerate(chosen):
            parts.insert(at + offset, details[i])
        return
    early = [i for i in chosen if i < 2]
    for offset, i in enumerate(early):
        parts.insert(1 + offset, ("course", details[i]))
    for i in chosen[len(early):]:
        end = _course_end(parts)
        parts.insert(r.randint(min(2 + len(early), end), end), ("course", details[i]))


def _course_end(parts: list[tuple[str, str]]) -> int:
    return next((j for j, (section, _) in enumerate(parts) if section not in ("hpi", "course")),
                len(parts))
