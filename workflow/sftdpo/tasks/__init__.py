"""The task registry: every task the config may name, by name."""

from .base import LabelTask
from .triage import PROVIDER_TRIAGE, URGENCY_TRIAGE

TASKS: dict[str, LabelTask] = {task.name: task for task in (PROVIDER_TRIAGE, URGENCY_TRIAGE)}


def get_task(name: str) -> LabelTask:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
