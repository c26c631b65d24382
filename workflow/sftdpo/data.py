"""A task's items split into train / validation / test: seeded, stratified, no text twice.

Built-in tasks generate their items; a user's task loads them (:mod:`sftdpo.userdata`) and
either brings its own split column or is split here. Either way a text (compared normalised:
Unicode NFC, case, spacing and punctuation aside) appears in one split only: within a split
repeats are dropped, and across splits the copy in the later split is dropped (train before
validation before test), so the test split never holds a text the model trained on.

Repeated texts are handled one way whatever the task's kind. Copies that agree on the answer
(the label; the choice's answer; the summary's reference and key facts, compared as texts
are) are repeats: one is kept, as above. Copies that disagree are a conflict: an error naming
every copy (``conflicting_repeats: refuse``, the default), or every copy is dropped
(``tasks.<name>.data.conflicting_repeats: drop``). Every item dropped, repeat or conflict, is
listed in the task's ``meta.json`` (``dropped``: file, row, id, reason) and counted there.
Every problem of the data, its rows' and its conflicts', is reported at once, in one
DataError (:func:`sftdpo.userfiles.reported`), as are too few items for the split shares.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .labels import nfc
from .tasks import builtin_name, load_task
from .tasks.base import LabelTask, Task
from .userdata import DataError, item_where, load_user_items, row_where
from .userfiles import EXTENSIONS, existing_path, reported, short

SPLITS = ("train", "validation", "test")
# A user's file in one of these formats and up to this size is checked when Snakemake plans a
# run (check_user_data), which takes well under a second; larger ones in the data job only.
PLAN_CHECK_FORMATS = ("csv", "tsv", "jsonl", "json")
PLAN_CHECK_BYTES = 4 * 2**20


def normalised(text: str) -> str:
    """The form two texts are compared in: Unicode NFC, and case, spacing and punctuation do
    not count."""
    return re.sub(r"\W+", " ", nfc(text).casefold()).strip()


def drop_duplicate_texts(items: list[dict], seen: dict[str, dict] | None = None,
                         dropped: list[dict] | None = None,
                         source: str = "data") -> tuple[list[dict], int]:
    """Keep the first item of each normalised text not already in ``seen`` (text -> the item
    kept, which grows); returns the items kept and how many were dropped. Each item dropped
    is added to ``dropped`` (a ``meta.json`` entry, :func:`dropped_entry`) when given.
    Answers are not compared here: :func:`conflicting_texts` comes first."""
    seen = {} if seen is None else seen
    kept = []
    for item in items:
        key = normalised(item["text"])
        first = seen.get(key)
        if first is None:
            seen[key] = item
            kept.append(item)
        elif dropped is not None:
            where = item_where(first) + (f" ({first['split']})" if "split" in first else "")
            earlier = ", in the earlier split" if first.get("split") != item.get("split") else ""
            dropped.append(dropped_entry(item, source, f"repeats {where}: the same text with "
                                         f"the same answer, kept once{earlier}"))
    return kept, len(items) - len(kept)


def dropped_entry(item: dict, source: str, reason: str) -> dict:
    """What ``meta.json`` (and the data job's log) says of an item dropped: its file, row (as
    a number and as messages name it), id, split where the data gives one, and why."""
    entry = {"file": source, "row": item.get("source_row"), "where": row_where(item),
             "id": item["id"]}
    if "split" in item:
        entry["split"] = item["split"]
    return entry | {"reason": reason}


def dropped_report(meta: dict) -> list[str]:
    """The data job's log lines on what was dropped: the counts, then every item dropped
    (``meta.json``'s ``dropped``) with its file, row, id and reason, one a line."""
    conflicts = meta["conflicting_repeats"]
    lines = [f"dropped {len(meta['dropped'])} items: "
             f"{sum(meta['duplicates_dropped'].values())} repeated texts, {conflicts['items']} "
             f"copies of {conflicts['texts']} texts with conflicting answers "
             f"(conflicting_repeats: {conflicts['policy']})"]
    for entry in meta["dropped"]:
        ident = ("" if entry["row"] is None or entry["id"] == f"row-{entry['row']}"
                 else f" (id {entry['id']!r})")
        lines.append(f"  {entry['file']}, {entry['where']}{ident}: {entry['reason']}")
    return lines


def _answer(task: Task, item: dict):
    """What copies of a text must agree on: the gold answer; for a summary its reference and
    key facts, compared as texts are (:func:`normalised`)."""
    if task.kind == "summary":
        return (normalised(item["reference"]),
                tuple(normalised(fact) for fact in item.get("key_facts") or ()))
    return task.gold(item)


def conflicting_texts(items: list[dict], task: Task) -> list[list[dict]]:
    """Every text (normalised) whose copies in ``items`` give different answers: its copies in
    order, the texts in the order of their first copy."""
    copies: dict[str, list[dict]] = {}
    for item in items:
        copies.setdefault(normalised(item["text"]), []).append(item)
    return [group for group in copies.values()
            if len({_answer(task, item) for item in group}) > 1]


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _answers(task: Task, group: list[dict]) -> tuple[str, str]:
    """The field in which a conflict's copies differ, and their answers as a message says
    them (with each answer's rows when there are more than two copies)."""
    if task.kind == "summary":
        field = ("reference" if len({normalised(i["reference"]) for i in group}) > 1
                 else "key_facts")
        shown = [short(i["reference"]) if field == "reference"
                 else short("; ".join(i.get("key_facts") or [])) for i in group]
    else:
        field, shown = "label", [repr(task.gold(i)) for i in group]
    rows: dict[str, list[str]] = {}
    for answer, item in zip(shown, group, strict=True):
        rows.setdefault(answer, []).append(row_where(item))
    if len(group) == 2:
        return field, _joined(list(rows))
    return field, _joined([f"{answer} ({_joined(where)})" for answer, where in rows.items()])


def _conflict(task: Task, group: list[dict], source: str, key: str | None) -> DataError:
    """The DataError of one conflict: every copy, the answers, and what to do."""
    field, answers = _answers(task, group)
    other = next(item for item in group[1:] if _answer(task, item) != _answer(task, group[0]))
    drop = (f", or {key}.conflicting_repeats: drop to drop every copy of such a text"
            if key else "")
    return DataError(
        f"{source}, {_joined([item_where(item) for item in group])}, field '{field}': the same "
        f"text (compared without case, spacing or punctuation) has the answers {answers}; "
        f"expected one answer per text: correct or remove the copies that are wrong{drop}",
        source=source, row=other.get("source_row"), field=field)


def _conflict_entries(task: Task, group: list[dict], source: str) -> list[dict]:
    _, answers = _answers(task, group)
    return [dropped_entry(item, source, f"conflicting repeat: its text is also in "
                          f"{_joined([item_where(o) for o in group if o is not item])}, and "
                          f"the copies' answers are {answers}; every copy dropped "
                          f"(conflicting_repeats: drop)") for item in group]


def split_sizes(n: int, validation: float, test: float) -> dict[str, int]:
    """How many of ``n`` items each split gets."""
    n_test, n_validation = round(test * n), round(validation * n)
    return {"train": n - n_test - n_validation, "validation": n_validation, "test": n_test}


def fewest_items(n_classes: int, validation: float, test: float) -> int | None:
    """The fewest items that give every split at least ``n_classes`` items; None when no
    number does (the shares leave no training share) or only a vast one (a share near 0)."""
    if validation + test >= 1:
        return None
    # round(share * n) >= k needs share * n >= k - 1/2, and the training rest gains at most
    # one item by rounding: start at the least n those allow, then count up a little.
    k = n_classes
    start = max(3 * k, math.floor((k - 0.5) / validation), math.floor((k - 0.5) / test),
                math.floor((k - 1) / (1 - validation - test)))
    for n in range(start, start + 10_000):
        if min(split_sizes(n, validation, test).values()) >= k:
            return n
    return None


def split_size_problem(n: int, n_classes: int, validation: float, test: float) -> str | None:
    """Why ``n`` items cannot be split by these shares with ``n_classes`` items per split (one
    of each class at best), or None when they can."""
    sizes = split_sizes(n, validation, test)
    if min(sizes.values()) >= n_classes:
        return None
    counts = ", ".join(f"{name} {size}" for name, size in sizes.items())
    need = fewest_items(n_classes, validation, test)
    per = f"{n_classes} items (one per class)" if n_classes > 1 else "one item"
    least = (f"at least {need} items" if need is not None
             else "split shares that leave every split a share of the items")
    return (f"{n} items are too few for split.validation {validation} and split.test {test}: "
            f"the splits would get {counts}, and each needs {per}; expected {least}")


def _feasible(strata: list[str], n_smallest_split: int) -> bool:
    counts = Counter(strata)
    return min(counts.values()) >= 3 and len(counts) <= n_smallest_split


def _strata(task: Task, items: list[dict], n_smallest_split: int) -> list[str] | None:
    """What the split keeps balanced: the task's strata, else the gold answer where the
    strata are too small to reach every split, else nothing (free text)."""
    for key in (task.stratum, task.gold):
        candidate = [str(key(item)) for item in items]
        if _feasible(candidate, n_smallest_split):
            return candidate
    return None


def stratified_split(
    task: Task, items: list[dict], validation: float, test: float, seed: int
) -> dict[str, list[dict]]:
    """Split by share of items, keeping each stratum's share alike in every split.

    Strata too small to reach every split (fewer than 3 items, or more strata than the smallest
    split has items) fall back to the gold answer, and where that is too fine as well (free
    text) to a plain seeded shuffle.
    """
    from sklearn.model_selection import train_test_split

    items, _ = drop_duplicate_texts(items)
    n_test, n_validation = round(test * len(items)), round(validation * len(items))
    strata = _strata(task, items, min(n_test, n_validation))
    indices = list(range(len(items)))
    # Counts, not fractions, so the shares do not drift by rounding twice.
    rest, test_idx = train_test_split(indices, test_size=n_test, random_state=seed,
                                      stratify=strata)
    train_idx, validation_idx = train_test_split(
        rest, test_size=n_validation, random_state=seed,
        stratify=None if strata is None else [strata[i] for i in rest],
    )
    return _by_split(items, (train_idx, validation_idx, test_idx))


def _by_split(items: list[dict], indices) -> dict[str, list[dict]]:
    return {name: [items[i] for i in sorted(chosen)]
            for name, chosen in zip(SPLITS, indices, strict=True)}


# Group splits cut the groups into this many folds (fewer with fewer groups), so the shares
# are met to 1/20 of the groups at best.
GROUP_FOLDS = 20


def grouped_split(task: Task, items: list[dict], validation: float, test: float,
                  seed: int, source: str = "data") -> dict[str, list[dict]]:
    """Split whole groups (:meth:`Task.group`: a patient, a source, a template family), so no
    group is in two splits: scikit-learn's StratifiedGroupKFold cuts the groups into
    ``GROUP_FOLDS`` folds keeping the strata's shares as well as the groups allow; the first
    ``round(test * folds)`` folds are the test split, the next ``round(validation * folds)``
    (at least one each) validation, the rest train. The shares hold by groups, so by items
    only roughly: meta.json counts both."""
    from sklearn.model_selection import StratifiedGroupKFold

    items, _ = drop_duplicate_texts(items)
    groups = [task.group(item) for item in items]
    n_folds = min(GROUP_FOLDS, len(set(groups)))
    n_test, n_validation = max(1, round(test * n_folds)), max(1, round(validation * n_folds))
    if n_test + n_validation >= n_folds:
        raise DataError(
            f"{source}: {len(set(groups))} groups are too few for split.by: group with "
            f"validation {validation} and test {test} (each split needs whole groups); "
            f"expected more groups, or split.by: item", source=source)
    strata = _strata(task, items, n_test) or ["all"] * len(items)
    folds = [held for _, held in StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
             .split(items, strata, groups)]
    test_idx = [i for fold in folds[:n_test] for i in fold]
    validation_idx = [i for fold in folds[n_test:n_test + n_validation] for i in fold]
    train_idx = [i for fold in folds[n_test + n_validation:] for i in fold]
    return _by_split(items, (train_idx, validation_idx, test_idx))


def check_groups_apart(splits: dict[str, list[dict]], task: Task, source: str) -> None:
    """DataError when one group (a user's group column) has items in two of the data's own
    splits, naming the group and a row of each."""
    first: dict[str, tuple[str, dict]] = {}
    for name in SPLITS:
        for item in splits[name]:
            if "group" not in item:
                continue
            seen = first.setdefault(item["group"], (name, item))
            if seen[0] != name:
                raise DataError(
                    f"{source}, {item_where(seen[1])} ({seen[0]}) and {item_where(item)} "
                    f"({name}), field 'group': group {item['group']!r} is in two splits; "
                    f"expected every group in one split (its items would be trained on and "
                    f"tested on): correct the split column, or drop it to split by group",
                    source=source, row=item.get("source_row"), field="group")


def given_splits(items: list[dict], source: str = "data", dropped: list[dict] | None = None
                 ) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """The user's own splits (every item has ``split``), repeats dropped as described above
    (each added to ``dropped`` when given); returns the splits and the number dropped from
    each."""
    seen: dict[str, dict] = {}
    splits, counts = {}, {}
    for name in SPLITS:
        splits[name], counts[name] = drop_duplicate_texts(
            [item for item in items if item["split"] == name], seen, dropped, source)
    return splits, counts


@dataclass
class Prepared:
    """A task's items before the seeded split: the data's own splits (``given``), else the
    items with repeats dropped (``unique``), checked against the split shares."""

    task: Task
    meta: dict
    dropped: dict[str, int]            # repeats dropped, per split or "before splitting"
    given: dict[str, list[dict]] | None = None
    unique: list[dict] | None = None
    # Every item dropped, repeat or conflict (dropped_entry), for meta.json and the log.
    dropped_items: list[dict] = field(default_factory=list)


def prepare_items(name: str, spec: dict, split: dict, seed: int,
                  base_dir: str | Path = ".") -> Prepared:
    """Load or generate the items of ``tasks.<name>`` and make every check that needs no
    split: the rows, conflicting answers (refused, or dropped under ``conflicting_repeats:
    drop``), and enough items for the shares. Raises one DataError listing every problem."""
    meta: dict = {"task": name}
    problems: list[DataError] = []
    key, policy = None, "refuse"
    if "data" in spec:
        key = f"tasks.{name}.data"
        user = load_user_items(spec["data"], spec["family"], base_dir, key=key,
                               keep_problems=True)
        source, problems = user.source, user.problems
        if problems and not user.items:
            raise reported(problems, source)
        policy = spec["data"].get("conflicting_repeats", "refuse")
        task = load_task(name, spec, user.labels)
        meta |= {"source": user.source, "rows": user.n_rows,
                 "labels": list(user.labels) if user.labels else None}
        if user.labels:
            meta["label_spellings_merged"] = user.merged
        items = user.items
    else:
        task = load_task(name, spec)
        meta |= {"source": f"built-in generator {builtin_name(name, spec)}",
                 "labels": list(task.labels) if isinstance(task, LabelTask) else None}
        items = task.build_items(spec["n_items"], seed, **spec.get("generator", {}))
        source = f"task {name!r}"
    conflicts = conflicting_texts(items, task)
    if policy == "refuse":
        problems = problems + [_conflict(task, group, source, key) for group in conflicts]
    if problems:
        raise reported(problems, source)
    dropped_items: list[dict] = []
    if conflicts:  # policy drop
        for group in conflicts:
            dropped_items += _conflict_entries(task, group, source)
        gone = {id(item) for group in conflicts for item in group}
        items = [item for item in items if id(item) not in gone]
    meta["conflicting_repeats"] = {"policy": policy, "texts": len(conflicts),
                                   "items": len(dropped_items)}
    if items and all("split" in item for item in items):
        given, dropped = given_splits(items, source, dropped_items)
        check_groups_apart(given, task, source)
        meta["split_from"] = "the data's split column"
        prepared = Prepared(task, meta, dropped, given=given, dropped_items=dropped_items)
    else:
        unique, n_repeats = drop_duplicate_texts(items, dropped=dropped_items, source=source)
        n_classes = len(task.labels) if isinstance(task, LabelTask) else 1
        problem = split_size_problem(len(unique), n_classes, split["validation"], split["test"])
        if problem:
            gone = [f"{n_repeats} repeated texts"] if n_repeats else []
            gone += ([f"{meta['conflicting_repeats']['items']} copies of "
                      f"{len(conflicts)} texts with conflicting answers"] if conflicts else [])
            after = f" (after dropping {' and '.join(gone)})" if gone else ""
            raise DataError(f"{source}: {problem}{after}, or a split column",
                            source=source)
        prepared = Prepared(task, meta, {"before splitting": n_repeats}, unique=unique,
                            dropped_items=dropped_items)
    return prepared


def check_user_data(name: str, spec: dict, split: dict, seed: int,
                    base_dir: str | Path = ".") -> None:
    """What can be known of a user task's data before any job runs: its file or folder
    exists, and a small text file passes every check :func:`prepare_items` makes. Raises
    DataError; does nothing for a built-in task or a hub dataset."""
    data = spec.get("data") or {}
    if data.get("path") is None:
        return
    try:
        path = existing_path(data, base_dir, f"tasks.{name}.data")
        fmt = data.get("format") or EXTENSIONS.get(path.suffix.lower())
        if (path.is_file() and fmt in PLAN_CHECK_FORMATS
                and path.stat().st_size <= PLAN_CHECK_BYTES):
            prepare_items(name, spec, split, seed, base_dir)
    except DataError as error:  # raised here, so a traceback stops at this line
        raise error.with_traceback(None) from None


def _empty_split(part: str, prepared: Prepared, source: str) -> str:
    """Why the split ``part`` has no item, as it is: the data's split column gives it no row,
    every row it gives was dropped (which, and why), or the seeded split gave it none."""
    if prepared.given is None:
        return (f"{source}: the {part} split is empty: the seeded split gave it none of the "
                f"{len(prepared.unique)} items; expected at least one item in {part}: more "
                f"items, or other split shares")
    gone = [entry for entry in prepared.dropped_items if entry.get("split") == part]
    if not gone:
        rows = {name: len(items) + sum(entry.get("split") == name
                                       for entry in prepared.dropped_items)
                for name, items in prepared.given.items()}
        return (f"{source}, field 'split': the {part} split is empty: no row of the data has "
                f"split {part!r} (rows by split: "
                f"{', '.join(f'{name} {n}' for name, n in rows.items())}); expected at least "
                f"one row with split {part!r}, or no split column (columns.split: null) to "
                f"split the items here")
    repeats = prepared.dropped[part]
    why = [f"{repeats} repeated texts"] if repeats else []
    why += ([f"{len(gone) - repeats} copies of texts with conflicting answers "
             f"(conflicting_repeats: drop)"] if len(gone) > repeats else [])
    shown = ", ".join(entry["where"] for entry in gone[:3]) + (
        f" and {len(gone) - 3} more" if len(gone) > 3 else "")
    return (f"{source}, field 'split': the {part} split is empty: all {len(gone)} rows with "
            f"split {part!r} were dropped, as {' and '.join(why)} ({shown}); expected at "
            f"least one item in {part}")


def build_splits(name: str, spec: dict, split: dict, seed: int,
                 base_dir: str | Path = ".") -> tuple[dict[str, list[dict]], dict]:
    """The three splits of the task ``tasks.<name>`` of the config, and its ``meta.json``."""
    prepared = prepare_items(name, spec, split, seed, base_dir)
    task, meta, dropped = prepared.task, prepared.meta, prepared.dropped
    # A task whose items have no group (no group column, a generator without template
    # families) is split by item whatever split.by says, as each item is its own group.
    by = split.get("by", "item")
    if by == "group" and not any(task.group_field in item for item in prepared.unique or []):
        by = "item"
    if not prepared.given:
        meta["split_from"] = f"seeded stratified split by {by} (seed {seed})"
    # The unit of inference (sftdpo.stats): the group where groups are kept apart.
    grouped = by == "group" or (prepared.given is not None and any(
        task.group_field in item for part in prepared.given.values() for item in part))
    meta["unit"] = "group" if grouped else "item"
    if prepared.given:
        splits = prepared.given
    elif by == "group":
        splits = grouped_split(task, prepared.unique, split["validation"], split["test"], seed,
                               meta.get("source", f"task {name!r}"))
    else:
        splits = stratified_split(task, prepared.unique, split["validation"], split["test"],
                                  seed)
    for part, part_items in splits.items():
        if not part_items:
            source = meta["source"] if "data" in spec else f"task {name!r}"
            raise DataError(_empty_split(part, prepared, source), source=source, field="split")
    if isinstance(task, LabelTask):
        train_labels = {task.gold(item) for item in splits["train"]}
        if len(train_labels) < 2:
            raise DataError(f"task {name!r}: the train split holds one label only "
                            f"({', '.join(train_labels)}); expected at least two for "
                            f"training")
    meta |= {
        "family": task.family,
        "kind": task.kind,
        "duplicates_dropped": dropped,
        "counts": {part: len(part_items) for part, part_items in splits.items()},
        "groups": {part: len({task.group(item) for item in part_items})
                   for part, part_items in splits.items()},
    }
    if task.kind == "summary":
        meta["grading"] = summary_grading([item for part in splits.values() for item in part])
    meta["dropped"] = prepared.dropped_items
    return splits, meta


def unit_of(task: Task, item: dict, unit: str) -> str:
    """An item's unit of inference: its group where ``unit`` (meta.json's) is "group",
    else the item itself."""
    return task.group(item) if unit == "group" else f"item {item['id']}"


def summary_grading(items: list[dict]) -> str:
    """What the rubric grades a summary task's items against (meta.json ``grading``):
    ``key_facts`` from the data, or ``reference_clauses`` where the data has none."""
    return "key_facts" if all(item.get("key_facts") is not None for item in items) else (
        "reference_clauses")


def grading_note(gradings: dict[str, str]) -> str:
    """The sentence under the table that says what each summary task's Likert grade was
    graded against (``gradings``: task -> meta.json ``grading``); "" without summary tasks."""
    said = {"key_facts": "the key facts of its data",
            "reference_clauses": "its reference's clauses (the data has no key facts: grade 5 "
                                 "restates every clause of the reference)"}
    parts = [f"{task}, against {said[grading]}" for task, grading in gradings.items()]
    return f"Rubric grades (likert): {'; '.join(parts)}." if parts else ""
