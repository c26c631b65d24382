"""A task's items split into train / validation / test: seeded, stratified, no text twice."""

from __future__ import annotations

import re
from collections import Counter

from sklearn.model_selection import train_test_split

from .tasks.base import LabelTask

SPLITS = ("train", "validation", "test")


def normalised(text: str) -> str:
    """The form two texts are compared in: case, spacing and punctuation do not count."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def drop_duplicate_texts(items: list[dict]) -> tuple[list[dict], int]:
    """Keep the first item of each normalised text, so no text can land in two splits."""
    seen: set[str] = set()
    kept = []
    for item in items:
        key = normalised(item["text"])
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept, len(items) - len(kept)


def stratified_split(
    task: LabelTask, items: list[dict], validation: float, test: float, seed: int
) -> dict[str, list[dict]]:
    """Split by share of items, keeping each stratum's share alike in every split.

    Strata too small to reach every split (fewer than 3 items, or more strata than the smallest
    split has items) fall back to stratifying on the label alone.
    """
    items, _ = drop_duplicate_texts(items)
    n_test, n_validation = round(test * len(items)), round(validation * len(items))
    strata = [task.stratum(item) for item in items]
    counts = Counter(strata)
    if min(counts.values()) < 3 or len(counts) > min(n_test, n_validation):
        strata = [task.gold(item) for item in items]
    indices = list(range(len(items)))
    # Counts, not fractions, so the shares do not drift by rounding twice.
    rest, test_idx = train_test_split(
        indices, test_size=n_test, random_state=seed, stratify=strata
    )
    train_idx, validation_idx = train_test_split(
        rest,
        test_size=n_validation,
        random_state=seed,
        stratify=[strata[i] for i in rest],
    )
    return {
        name: [items[i] for i in sorted(chosen)]
        for name, chosen in zip(SPLITS, (train_idx, validation_idx, test_idx), strict=True)
    }
