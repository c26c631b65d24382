"""A task's items split into train / validation / test: seeded, stratified, no text twice.

Built-in tasks generate their items; a user's task loads them (:mod:`sftdpo.userdata`) and
either brings its own split column or is split here. Either way a text (compared normalised)
appears in one split only: within a split repeats are dropped, and across splits the copy in
the later split is dropped (train before validation before test), so the test split never
holds a text the model trained on. Every drop is counted in the task's ``meta.json``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from sklearn.model_selection import train_test_split

from .tasks import builtin_name, load_task
from .tasks.base import LabelTask, Task
from .userdata import DataError, load_user_items

SPLITS = ("train", "validation", "test")


def normalised(text: str) -> str:
    """The form two texts are compared in: case, spacing and punctuation do not count."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def drop_duplicate_texts(items: list[dict], seen: set[str] | None = None) -> tuple[list[dict], int]:
    """Keep the first item of each normalised text not already in ``seen`` (which grows)."""
    seen = set() if seen is None else seen
    kept = []
    for item in items:
        key = normalised(item["text"])
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept, len(items) - len(kept)


def _feasible(strata: list[str], n_smallest_split: int) -> bool:
    counts = Counter(strata)
    return min(counts.values()) >= 3 and len(counts) <= n_smallest_split


def stratified_split(
    task: Task, items: list[dict], validation: float, test: float, seed: int
) -> dict[str, list[dict]]:
    """Split by share of items, keeping each stratum's share alike in every split.

    Strata too small to reach every split (fewer than 3 items, or more strata than the smallest
    split has items) fall back to the gold answer, and where that is too fine as well (free
    text) to a plain seeded shuffle.
    """
    items, _ = drop_duplicate_texts(items)
    n_test, n_validation = round(test * len(items)), round(validation * len(items))
    strata: list[str] | None = None
    for key in (task.stratum, task.gold):
        candidate = [str(key(item)) for item in items]
        if _feasible(candidate, min(n_test, n_validation)):
            strata = candidate
            break
    indices = list(range(len(items)))
    # Counts, not fractions, so the shares do not drift by rounding twice.
    rest, test_idx = train_test_split(indices, test_size=n_test, random_state=seed,
                                      stratify=strata)
    train_idx, validation_idx = train_test_split(
        rest, test_size=n_validation, random_state=seed,
        stratify=None if strata is None else [strata[i] for i in rest],
    )
    return {
        name: [items[i] for i in sorted(chosen)]
        for name, chosen in zip(SPLITS, (train_idx, validation_idx, test_idx), strict=True)
    }


def given_splits(items: list[dict]) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """The user's own splits (every item has ``split``), repeats dropped as described above;
    returns the splits and the number dropped from each."""
    seen: set[str] = set()
    splits, dropped = {}, {}
    for name in SPLITS:
        splits[name], dropped[name] = drop_duplicate_texts(
            [item for item in items if item["split"] == name], seen)
    return splits, dropped


def build_splits(name: str, spec: dict, split: dict, seed: int,
                 base_dir: str | Path = ".") -> tuple[dict[str, list[dict]], dict]:
    """The three splits of the task ``tasks.<name>`` of the config, and its ``meta.json``."""
    meta: dict = {"task": name}
    if "data" in spec:
        user = load_user_items(spec["data"], spec["family"], base_dir, key=f"tasks.{name}.data")
        task = load_task(name, spec, user.labels)
        meta |= {"source": user.source, "rows": user.n_rows,
                 "labels": list(user.labels) if user.labels else None}
        items = user.items
    else:
        task = load_task(name, spec)
        meta |= {"source": f"built-in generator {builtin_name(name, spec)}",
                 "labels": list(task.labels) if isinstance(task, LabelTask) else None}
        items = task.build_items(spec["n_items"], seed, **spec.get("generator", {}))
    if items and all("split" in item for item in items):
        splits, dropped = given_splits(items)
        meta["split_from"] = "the data's split column"
    else:
        unique, n_repeats = drop_duplicate_texts(items)
        splits = stratified_split(task, unique, split["validation"], split["test"], seed)
        dropped = {"before splitting": n_repeats}
        meta["split_from"] = f"seeded stratified split (seed {seed})"
    for part, part_items in splits.items():
        if not part_items:
            raise DataError(f"task {name!r}: the {part} split is empty after dropping repeated "
                            f"texts; {part} needs at least one item")
    if isinstance(task, LabelTask):
        train_labels = {task.gold(item) for item in splits["train"]}
        if len(train_labels) < 2:
            raise DataError(f"task {name!r}: the train split holds one label only "
                            f"({', '.join(train_labels)}); training needs at least two")
    meta |= {
        "family": task.family,
        "kind": task.kind,
        "duplicates_dropped": dropped,
        "counts": {part: len(part_items) for part, part_items in splits.items()},
    }
    return splits, meta
