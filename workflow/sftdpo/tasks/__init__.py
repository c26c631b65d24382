"""The task registry: the built-in tasks by name, and tasks over a user's own data by family.

A config entry ``tasks.<name>`` either names a built-in task (its key, or ``builtin:``) or
points at the user's data with ``data:`` and a ``family:``. :func:`load_task` turns either
into a task object; every rule calls it, so a task means the same thing in every job.
"""

from __future__ import annotations

import dataclasses
import json

from ..labels import names_of
from .base import LabelTask, Task
from .choice import ChoiceTask
from .numeric import BREAST_CANCER, SEPSIS_QSOFA
from .radiology import RADIOLOGY_FINDING
from .reasoning import CLINICAL_REASONING
from .summary import HOSPITAL_COURSE, SummaryTask
from .triage import PROVIDER_TRIAGE, URGENCY_TRIAGE

BUILTIN_TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        PROVIDER_TRIAGE,
        URGENCY_TRIAGE,
        RADIOLOGY_FINDING,
        BREAST_CANCER,
        SEPSIS_QSOFA,
        CLINICAL_REASONING,
        HOSPITAL_COURSE,
    )
}

# The study's families, each with the task kind that serves a user's data of that family and
# the instruction used when the config gives none.
FAMILIES: dict[str, tuple[type[Task], str]] = {
    "text_classification": (
        LabelTask, "Classify the clinical text. Answer with the label only."),
    "numeric_classification": (
        LabelTask, "Classify the case from its values. Answer with the label only."),
    "triage": (
        LabelTask, "Triage the patient message. Answer with the label only."),
    "clinical_reasoning": (
        ChoiceTask, "Read the case and give the single best answer."),
    "summarization": (
        SummaryTask, "Summarize the clinical note for a colleague: keep every key fact, "
        "add nothing that is not in the note."),
}


def builtin_name(name: str, spec: dict) -> str:
    return spec.get("builtin", name)


def answer_tokens(task: Task, spec: dict) -> int:
    """Tokens kept for the answer: the config's ``max_new_tokens``, else the kind's default."""
    return spec.get("max_new_tokens") or task.default_max_new_tokens


def pair_strategy(task: Task, spec: dict) -> str:
    return spec.get("pairs", {}).get("strategy") or task.default_pair_strategy


def task_class(name: str, spec: dict) -> Task:
    """What a config entry's task is, known before its data exists: the built-in task, or the
    task class of the user's family (with its default metrics)."""
    if "data" in spec:
        return FAMILIES[spec["family"]][0]
    return BUILTIN_TASKS[builtin_name(name, spec)]


def load_task(name: str, spec: dict, labels: list[str] | tuple[str, ...] | None = None) -> Task:
    """The task a config entry declares. ``labels`` is the label set of a user's label task
    (declared in the config or inferred from the data: the data rule's ``meta.json``)."""
    if "data" not in spec:
        task = BUILTIN_TASKS[builtin_name(name, spec)]
        changes = {"name": name} | ({"instruction": spec["instruction"]}
                                    if "instruction" in spec else {})
        return dataclasses.replace(task, **changes)
    kind, instruction = FAMILIES[spec["family"]]
    fields = {
        "name": name,
        "family": spec["family"],
        "description": spec.get("description", f"{name}: user data"),
        "instruction": spec.get("instruction", instruction),
    }
    if kind is LabelTask:
        if not labels:
            raise ValueError(f"task {name!r}: a label task over user data needs its labels")
        fields["labels"] = tuple(labels)
        # The names the model sees and answers with (tasks.<name>.data.label_names).
        fields["label_names"] = names_of(fields["labels"], spec["data"].get("label_names"))
    return kind(**fields)


def load_task_with_meta(name: str, spec: dict, meta_path: str) -> Task:
    """:func:`load_task` with the label set the data rule recorded in ``meta_path``."""
    with open(meta_path, encoding="utf-8") as handle:
        return load_task(name, spec, json.load(handle).get("labels"))
