"""What every task is made of: its prompt, its answer format, its parser and its score, in one
place.

A task turns an item (a dict with at least ``id`` and ``text``) into chat messages for the
model, knows the gold answer of an item and the text SFT teaches for it, parses a model's raw
completion back into an answer, and scores that answer. Everything downstream (SFT data,
preference pairs, generation, scoring, statistics, the summary table) asks the task; no prompt,
label list or parser is written anywhere else.

There are three kinds of task, one class each:

* ``label`` (:class:`LabelTask`): one label out of a fixed set (text classification,
  classification with numeric data, triage). Score 1/0; metrics macro F1 and accuracy.
* ``choice`` (:class:`sftdpo.tasks.choice.ChoiceTask`): one best answer per item, out of the
  item's own options (multiple choice) or free text matched to the answer's synonyms
  (clinical reasoning). Score 1/0; metric accuracy.
* ``summary`` (:class:`sftdpo.tasks.summary.SummaryTask`): free text graded 1-5 by a rubric
  on key-fact coverage and contradictions, plus ROUGE-L. Score is the grade.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

from ..labels import case_matters, fold, nfc


class Task:
    """The interface every task kind implements (see the module docstring).

    Subclasses are frozen dataclasses with at least ``name``, ``family``, ``description``,
    ``instruction`` and ``group_field`` fields, and class attributes ``kind``, ``metrics``,
    ``default_pair_strategy`` and ``default_max_new_tokens``.
    """

    kind: ClassVar[str]
    # The metrics the summary table shows, first the one the paper reports for this family.
    metrics: tuple[str, ...]
    default_pair_strategy: ClassVar[str]
    default_max_new_tokens: ClassVar[int]

    def gold(self, item: dict) -> str:
        """The reference answer as the predictions file records it."""
        raise NotImplementedError

    def prompt_messages(self, item: dict) -> list[dict]:
        """The chat turns that ask the model for an answer (no assistant turn)."""
        raise NotImplementedError

    def completion(self, item: dict) -> str:
        """The assistant's answer text for the item: what SFT teaches and DPO prefers."""
        raise NotImplementedError

    def parse(self, completion: str, item: dict) -> str | None:
        """The answer read from a raw completion, or None when it holds no answer at all."""
        raise NotImplementedError

    def score(self, item: dict, parsed: str | None) -> dict:
        """Per-item values: ``score`` (1/0, or the 1-5 grade) and any other per-item metric."""
        raise NotImplementedError

    def candidates(self, item: dict) -> list[str] | None:
        """The answers the item may take (labels, options), for hardest-wrong-answer pairs;
        None where the answer is free text."""
        return None

    def answer_text(self, item: dict, answer: str) -> str:
        """The assistant text that gives ``answer`` (one of ``candidates``) for the item."""
        return answer

    def stratum(self, item: dict) -> str:
        """The key that stratified splits keep balanced."""
        return self.gold(item)

    def group(self, item: dict) -> str:
        """The item's group (``group_field``: a patient, a source, a template family), which
        ``split.by: group`` keeps in one split; an item without one is a group of its own."""
        value = item.get(self.group_field)
        return f"item {item['id']}" if value is None else str(value)


@dataclass(frozen=True)
class LabelTask(Task):
    """Classification: the answer is one label out of a fixed set.

    ``aliases`` maps a label to other spellings a model may use for it ("not urgent" for
    "non-urgent"); the parser accepts the label itself and its aliases, in Unicode NFC and
    case-insensitively unless two labels differ only by case (the rule of
    :mod:`sftdpo.labels`).
    ``label_names`` maps a label to the name the model sees and answers with (rule 7 of
    :mod:`sftdpo.labels`: ``{"1": "neoplasms"}``): the prompt lists the names, SFT teaches
    them, and the parser reads them in place of the labels and gives the label, so
    ``gold``, ``parse`` and ``candidates`` (and the predictions and metrics) stay in labels.
    ``build_items(n_items, seed, **generator_settings)`` makes the built-in data (None for a
    task over a user's data).
    """

    kind: ClassVar[str] = "label"
    default_pair_strategy: ClassVar[str] = "hardest_wrong_label"
    default_max_new_tokens: ClassVar[int] = 8

    name: str
    family: str
    description: str
    labels: tuple[str, ...]
    instruction: str
    label_field: str = "label"
    build_items: Callable[..., list[dict]] | None = None
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stratify_fields: tuple[str, ...] = ()
    group_field: str = "group"
    metrics: tuple[str, ...] = ("macro_f1", "accuracy")
    label_names: dict[str, str] = field(default_factory=dict)

    def gold(self, item: dict) -> str:
        return item[self.label_field]

    def prompt_messages(self, item: dict) -> list[dict]:
        ask = f"Answer with one of: {', '.join(self._answers)}."
        return [
            {"role": "system", "content": self.instruction},
            {"role": "user", "content": f"{item['text'].strip()}\n\n{ask}"},
        ]

    def completion(self, item: dict) -> str:
        return self.answer_text(item, self.gold(item))

    def answer_text(self, item: dict, answer: str) -> str:
        """The label's name where labels have names, else the label."""
        return self.label_names.get(answer, answer)

    def parse(self, completion: str, item: dict | None = None) -> str | None:
        """The label named first in ``completion``, or None when it names none."""
        match = self._pattern.search(fold(nfc(completion), self._case_matters))
        if match is None:
            return None
        return self._label_of[match.group(0)]

    def score(self, item: dict, parsed: str | None) -> dict:
        return {"score": int(parsed == self.gold(item))}

    def candidates(self, item: dict) -> list[str]:
        return list(self.labels)

    @cached_property
    def _answers(self) -> tuple[str, ...]:
        """What the model answers with, in the labels' order: their names, else the labels."""
        return tuple(self.label_names.get(label, label) for label in self.labels)

    @cached_property
    def _case_matters(self) -> bool:
        return case_matters(self._answers)

    @cached_property
    def _label_of(self) -> dict[str, str]:
        def key(spelling: str) -> str:
            return fold(nfc(spelling), self._case_matters)

        spellings = {key(answer): label for answer, label in zip(self._answers, self.labels,
                                                                 strict=True)}
        for label, alternatives in self.aliases.items():
            spellings.update({key(alt): label for alt in alternatives})
        return spellings

    @cached_property
    def _pattern(self) -> re.Pattern:
        # Longest spelling first so "non-urgent" wins over the "urgent" inside it.
        spellings = sorted(self._label_of, key=len, reverse=True)
        alternation = "|".join(re.escape(s) for s in spellings)
        return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])")

    def stratum(self, item: dict) -> str:
        """The label, or the ``stratify_fields`` joined, when set."""
        fields = self.stratify_fields or (self.label_field,)
        return "|".join(str(item[f]) for f in fields)
