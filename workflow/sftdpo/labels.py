"""One rule for what a label is, applied wherever a label is read: a user's data, a declared
label set, the chosen / rejected answers of a label task, and the parser that reads a
model's answer (:class:`sftdpo.tasks.base.LabelTask`).

1. Text is stripped and put in Unicode NFC, so an accented label typed two ways is one label.
2. Missing markers are missing values, never a label: empty text, JSON null, NaN or an
   infinite number, and the texts in :data:`MISSING_MARKERS` (``NaN``, ``None``, ``N/A``,
   ``NA``, ``null``, ``Infinity``, ... in any case). A missing label is an error naming the row.
3. A number is written one way: ``1``, ``1.0``, ``01``, ``+1``, ``1e0`` and the JSON number 1
   are the label ``1``; ``0.50`` is ``0.5``. Booleans are ``true`` / ``false``. The same holds
   in the config: ``labels: [0, 1]`` declares the labels ``0`` and ``1``, which the data's
   ``0.0`` and ``"1"`` match.
4. Case does not count (labels are compared case-folded) unless the declared labels differ
   only by case; then it does, in the data and in the parser.
5. The spelling kept: the declared one; else, among spellings that differ only by case, the
   one most rows use (the first in the file on a tie).
6. Inferred labels that differ only by spacing, punctuation or underscores (``non-urgent``,
   ``non urgent``, ``Non_Urgent``) are an error listing them: declare the labels to keep such
   labels apart, or correct the data.
7. Labels may be given names (``label_names``, label -> name: ``{1: neoplasms, 2: digestive
   system diseases}``). A code there is read by rules 1-4, so ``1``, ``1.0`` and ``"1"`` name
   one label; a name is stripped and put in NFC, and two names that differ only by case,
   spacing or punctuation are an error. The names are the model's side: the prompt lists
   them, SFT teaches them, pairs contrast them, the parser reads them (and only them: a "1."
   heading a numbered list is no answer) and gives the label. The data, the predictions'
   ``reference`` and ``parsed`` and the metrics keep the labels. Every label needs a name,
   and every name a label.
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections import Counter
from decimal import Decimal, InvalidOperation

MISSING_MARKERS = frozenset({
    "", "nan", "-nan", "+nan", "none", "null", "nil", "n/a", "#n/a", "na", "<na>", "nat",
    "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity",
})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class Missing(ValueError):
    """The value is a missing marker; ``shown`` is how it reads in a message."""

    def __init__(self, shown: str):
        super().__init__(shown)
        self.shown = shown


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _number_text(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def canonical(value) -> str | None:
    """The label ``value`` stands for under rules 1-3; None when it is not a scalar (a list,
    a mapping). Raises :class:`Missing` for a missing value."""
    if value is None:
        raise Missing("null")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise Missing(repr(value))
        return _number_text(Decimal(repr(value)))
    if not isinstance(value, str):
        return None
    text = nfc(value.strip())
    if text.casefold() in MISSING_MARKERS:
        raise Missing(repr(text) if text else "empty")
    if _NUMBER.fullmatch(text):
        try:
            return _number_text(Decimal(text))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            return text
    return text


def case_matters(labels) -> bool:
    """Whether two of ``labels`` differ only by case (rule 4)."""
    folded = [label.casefold() for label in labels]
    return len(set(folded)) < len(folded)


def fold(label: str, case_sensitive: bool) -> str:
    """The form two labels are compared in."""
    return label if case_sensitive else label.casefold()


def spelling_key(label: str) -> str:
    """The form in which labels that differ only by spacing or punctuation are equal (rule 6)."""
    return re.sub(r"[\W_]+", "", label.casefold())


def kept_spellings(spellings: list[str]) -> dict[str, str]:
    """Rule 5 for inferred labels: every spelling (in file order, repeats included) -> the
    label it stands for, the spelling most rows use among those equal without case."""
    counts = Counter(spellings)
    first = {s: i for i, s in reversed(list(enumerate(spellings)))}
    best: dict[str, str] = {}
    for spelling in counts:
        key = spelling.casefold()
        held = best.get(key)
        if held is None or (counts[spelling], -first[spelling]) > (counts[held], -first[held]):
            best[key] = spelling
    return {spelling: best[spelling.casefold()] for spelling in counts}


def look_alikes(labels) -> list[list[str]]:
    """Groups of distinct labels that differ only by spacing, punctuation or underscores."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(spelling_key(label), []).append(label)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def code_names(label_names: dict) -> dict[str, str]:
    """``label_names`` (code -> name, as the config gives it) with each code read by rules 1-3
    and each name stripped and in NFC (rule 7). Raises :class:`Missing` for a code that is a
    missing marker."""
    return {canonical(code): nfc(str(name).strip()) for code, name in label_names.items()}


def names_of(labels, label_names: dict | None) -> dict[str, str]:
    """Each of ``labels`` that ``label_names`` names -> its name; a code matches a label by
    rules 1-4 (case folded unless two of ``labels`` differ only by case). {} without names."""
    if not label_names:
        return {}
    strict = case_matters(labels)
    by_code = {fold(code, strict): name for code, name in code_names(label_names).items()}
    return {label: by_code[fold(label, strict)] for label in labels
            if fold(label, strict) in by_code}


def unnamed(labels, label_names: dict) -> tuple[list[str], list[str]]:
    """The labels ``label_names`` gives no name, and its codes that are none of ``labels``."""
    strict = case_matters(labels)
    folded = {fold(label, strict) for label in labels}
    named = names_of(labels, label_names)
    return ([label for label in labels if label not in named],
            [code for code in code_names(label_names) if fold(code, strict) not in folded])
