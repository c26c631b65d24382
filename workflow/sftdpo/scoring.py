"""Per-item scores: the task's parser reads each raw answer, the gold label is the reference."""

from __future__ import annotations

from .tasks.base import LabelTask


def score_generations(
    task: LabelTask, test_items: list[dict], generations: list[dict]
) -> list[dict]:
    """One prediction record per test item: raw text, parsed label, reference and 1/0 score."""
    by_id = {g["id"]: g for g in generations}
    missing = [item["id"] for item in test_items if item["id"] not in by_id]
    if missing:
        raise ValueError(f"no generation for test items {missing[:5]} ({len(missing)} in all)")
    records = []
    for item in test_items:
        prediction = by_id[item["id"]]["prediction"]
        parsed = task.parse(prediction)
        reference = task.gold(item)
        records.append(
            {
                "id": item["id"],
                "prediction": prediction,
                "parsed": parsed,
                "reference": reference,
                "score": int(parsed == reference),
            }
        )
    return records
