"""One best answer per item: multiple choice (the item's own options) or free response.

An item holds ``text`` (the case and its question), ``label`` (the correct answer, as its
canonical text) and, for multiple choice, ``options`` (the answer texts, ``label`` among them
exactly once). Free-response items have no options (an empty list or none). ``answers``
optionally maps a canonical answer to other spellings a model may use for it (synonyms,
abbreviations: "pulmonary embolism" -> ["PE", "pulmonary embolus"]); it should cover at least
the correct answer, and the built-in items also cover the look-alikes.

Parsing. Multiple choice: a leading or lone letter ("C", "(C)", "C.", "C)"), "Answer: C",
"answer is C", "option C", or else the first option named by its text or a synonym, gives that
option; a letter past the last option counts as no letter; nothing recognised gives None.
Free response: the first known answer named (the label, the ``answers`` keys and synonyms;
whole words, case, accents and punctuation ignored; the longest spelling wins at a position)
gives its canonical name; otherwise the cleaned first line of the reply is the answer (a wrong
free answer is wrong, not a parse failure); an empty reply gives None.

Scoring: 1 when the parsed answer equals the label (compared normalised), else 0.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from .base import Task

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MULTIPLE_CHOICE, FREE_RESPONSE = "multiple_choice", "free_response"

# "C", "C.", "(C)", "C)", "[C]", "C:", "C - ..." at the very start (after markdown marks).
_LEADING_LETTER = re.compile(
    r"^[\s*#>_\"'`]*[(\[]?([A-Za-z])(?:[)\].:,;]|\s+[-\u2013\u2014]\s|[ \t]*(?:\n|$))")
# "Answer: C", "The answer is (C)", "option C", "choice C." (upper-case letter only, so the
# article in "answer is a pulmonary embolism" is not read as a letter).
_KEYWORD_LETTER = re.compile(
    r"(?i:\b(?:answer|option|choice)\b)\s*(?:(?i:is)\s*)?[:\-]?\s*[(\[]?([A-Z])"
    r"(?=$|[)\].:,;!]|\s+(?:[-\u2013\u2014(]|[A-Z0-9]|$))")
_PREFIX = re.compile(
    r"^(?:(?:final|correct|best)\s+)?(?:answer|diagnosis|next step|treatment|management|"
    r"most likely diagnosis|the most likely diagnosis is|the diagnosis is|the answer is|"
    r"the best next step is)\s*(?:is\s*)?[:\-]?\s*", re.IGNORECASE)


def normalise(text: str) -> str:
    """Lower case, accents dropped, '+', '&', 'plus' and 'with' read as 'and', other
    punctuation as spaces: the form answers are compared and matched in."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[+&]", " and ", text)
    text = re.sub(r"\b(?:plus|with)\b", " and ", text)
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


@lru_cache(maxsize=4096)
def _matcher(spellings: tuple[tuple[str, str], ...]) -> tuple[re.Pattern | None, dict[str, str]]:
    """A pattern over the normalised spellings (longest first) and spelling -> canonical;
    the first canonical answer listed keeps a spelling two of them share."""
    canonical_of: dict[str, str] = {}
    for spelling, canonical in spellings:
        key = normalise(spelling)
        if key:
            canonical_of.setdefault(key, canonical)
    if not canonical_of:
        return None, canonical_of
    alternation = "|".join(re.escape(s) for s in sorted(canonical_of, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])"), canonical_of


def first_answer_named(text: str, answers: dict[str, list[str]]) -> str | None:
    """The canonical answer whose name or synonym occurs first in ``text``, or None."""
    spellings = tuple((s, canonical) for canonical, synonyms in answers.items()
                      for s in (canonical, *synonyms))
    pattern, canonical_of = _matcher(spellings)
    if pattern is None:
        return None
    match = pattern.search(normalise(text))
    return None if match is None else canonical_of[match.group(0)]


def clean_first_line(text: str) -> str | None:
    """The first non-empty line, without list marks, an 'Answer:' style prefix and a final
    full stop; None when nothing is left."""
    for line in text.splitlines():
        line = re.sub(r"^[\s*#>_\-\u2022\d.)]*", "", line).strip().strip("*_`\"' ")
        line = _PREFIX.sub("", line).strip().strip("*_`\"' ")
        line = re.sub(r"\s+", " ", line).rstrip(" .;,:!")
        if line:
            return line
    return None


def is_multiple_choice(item: dict) -> bool:
    return bool(item.get("options"))


@dataclass(frozen=True)
class ChoiceTask(Task):
    """One best answer per item, out of its ``options`` or as free text (module docstring).

    ``build_items(n_items, seed, **generator_settings)`` makes the built-in data (None for a
    task over a user's data, which brings ``text``, ``label`` and optionally ``options`` and
    ``answers``).
    """

    kind: ClassVar[str] = "choice"
    default_pair_strategy: ClassVar[str] = "hardest_wrong_label"
    default_max_new_tokens: ClassVar[int] = 16

    name: str
    family: str
    description: str
    instruction: str
    build_items: Callable[..., list[dict]] | None = None
    group_field: str = "group"
    metrics: tuple[str, ...] = ("accuracy",)

    def gold(self, item: dict) -> str:
        return item["label"]

    def prompt_messages(self, item: dict) -> list[dict]:
        text = item["text"].strip()
        if is_multiple_choice(item):
            lines = "\n".join(f"{LETTERS[i]}. {option}" for i, option in
                              enumerate(item["options"]))
            user = f"{text}\n\n{lines}\n\nAnswer with the letter and the option."
        else:
            what = {"diagnosis": "most likely diagnosis",
                    "next_step": "best next step"}.get(item.get("question"), "best answer")
            user = f"{text}\n\nAnswer with the single {what} only."
        return [{"role": "system", "content": self.instruction},
                {"role": "user", "content": user}]

    def completion(self, item: dict) -> str:
        return self.answer_text(item, self.gold(item))

    def answer_text(self, item: dict, answer: str) -> str:
        """``"C. <option>"`` for multiple choice, the answer itself for free response."""
        if not is_multiple_choice(item):
            return answer
        try:
            index = item["options"].index(answer)
        except ValueError:
            raise ValueError(f"item {item.get('id')!r}: {answer!r} is not one of its options "
                             f"{item['options']}") from None
        return f"{LETTERS[index]}. {answer}"

    def parse(self, completion: str, item: dict) -> str | None:
        if not completion or not completion.strip():
            return None
        answers = item.get("answers") or {}
        if is_multiple_choice(item):
            options = list(item["options"])
            letter = self._letter(completion, len(options))
            if letter is not None:
                return options[letter]
            named = {option: list(answers.get(option, [])) for option in options}
            return first_answer_named(completion, named)
        known = {self.gold(item): list(answers.get(self.gold(item), []))}
        known.update({canonical: list(synonyms) for canonical, synonyms in answers.items()})
        named = first_answer_named(completion, known)
        return named if named is not None else clean_first_line(completion)

    @staticmethod
    def _letter(completion: str, n_options: int) -> int | None:
        """The option index a letter in the reply picks, or None."""
        for pattern in (_LEADING_LETTER, _KEYWORD_LETTER):
            match = pattern.search(completion)
            if match:
                index = LETTERS.index(match.group(1).upper())
                if index < n_options:
                    return index
        return None

    def score(self, item: dict, parsed: str | None) -> dict:
        right = parsed is not None and normalise(parsed) == normalise(self.gold(item))
        return {"score": int(right)}

    def candidates(self, item: dict) -> list[str] | None:
        """The options; for free response the ``answers`` keys when there are two or more."""
        if is_multiple_choice(item):
            return list(item["options"])
        answers = item.get("answers") or {}
        keys = list(answers)
        if self.gold(item) not in keys:
            keys.insert(0, self.gold(item))
        return keys if len(keys) >= 2 else None

    def stratum(self, item: dict) -> str:
        """The form, plus the item's ``question`` (built-in data: diagnosis or next step) or
        else its ``category`` when it has one."""
        form = item.get("form") or (MULTIPLE_CHOICE if is_multiple_choice(item)
                                    else FREE_RESPONSE)
        category = item.get("question") or item.get("category")
        return f"{form}|{category}" if isinstance(category, str) and category else str(form)
