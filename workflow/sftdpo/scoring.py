"""Per-item scores: the task parses each raw answer and scores it against the item."""

from __future__ import annotations

from .tasks.base import Task


def score_generations(task: Task, test_items: list[dict], generations: list[dict]) -> list[dict]:
    """One prediction record per test item (the results contract's predictions): ``id``,
    raw ``prediction``, ``parsed`` answer (None when unparseable), ``reference``, ``score``,
    and whatever other per-item values the task's scorer gives (e.g. ``rouge_l``)."""
    by_id = {g["id"]: g for g in generations}
    missing = [item["id"] for item in test_items if item["id"] not in by_id]
    if missing:
        raise ValueError(f"no generation for test items {missing[:5]} ({len(missing)} in all)")
    records = []
    for item in test_items:
        prediction = by_id[item["id"]]["prediction"]
        parsed = task.parse(prediction, item)
        records.append({"id": item["id"], "prediction": prediction, "parsed": parsed,
                        "reference": task.gold(item), **task.score(item, parsed)})
    return records
