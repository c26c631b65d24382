"""What every task is made of: its prompt, its label set and its parser, in one place.

A task turns an item (a dict with at least ``id`` and ``text``) into chat messages for the
model, knows the gold answer of an item, and parses a model's raw completion back into an
answer. Everything downstream (SFT data, preference pairs, generation, scoring) asks the
task; no prompt or label list is written anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class LabelTask:
    """Classification: the answer is one label out of a fixed set.

    ``aliases`` maps a label to other spellings a model may use for it ("not urgent" for
    "non-urgent"); the parser accepts the label itself and its aliases, case-insensitively.
    """

    name: str
    family: str
    description: str
    labels: tuple[str, ...]
    label_field: str
    instruction: str
    build_items: Callable[..., list[dict]]
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stratify_fields: tuple[str, ...] = ()
    # The metrics the summary table shows for this task, first the one the paper reports.
    report_metrics: tuple[str, ...] = ("macro_f1", "accuracy")

    def gold(self, item: dict) -> str:
        return item[self.label_field]

    def prompt_messages(self, text: str) -> list[dict]:
        """The chat turns that ask the model for an answer (no assistant turn)."""
        options = ", ".join(self.labels)
        return [
            {"role": "system", "content": self.instruction},
            {"role": "user", "content": f"{text.strip()}\n\nAnswer with one of: {options}."},
        ]

    def completion(self, label: str) -> str:
        """The assistant's answer text for a label: what SFT teaches and DPO prefers."""
        return label

    def parse(self, completion: str) -> str | None:
        """The label named first in ``completion``, or None when it names none."""
        match = self._pattern.search(completion.lower())
        if match is None:
            return None
        return self._label_of[match.group(0)]

    @cached_property
    def _label_of(self) -> dict[str, str]:
        spellings = {label.lower(): label for label in self.labels}
        for label, alternatives in self.aliases.items():
            spellings.update({alt.lower(): label for alt in alternatives})
        return spellings

    @cached_property
    def _pattern(self) -> re.Pattern:
        # Longest spelling first so "non-urgent" wins over the "urgent" inside it.
        spellings = sorted(self._label_of, key=len, reverse=True)
        alternation = "|".join(re.escape(s) for s in spellings)
        return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])")

    def stratum(self, item: dict) -> str:
        """The key that stratified splits keep balanced (the label unless told otherwise)."""
        fields = self.stratify_fields or (self.label_field,)
        return "|".join(str(item[f]) for f in fields)
