"""A user's own data set read into the items a task works on, with errors a user can act on.

The config's ``tasks.<name>.data`` section says where the data is and which column holds which
item field::

    data:
      path: data/notes.csv        # csv, tsv, jsonl, json, parquet, or a save_to_disk folder
      # or hub_id: user/dataset (datasets.load_dataset), with optional config and revision
      format: csv                 # optional; from the extension, or a folder = datasets
      columns: {text: note, label: finding}   # item field -> column; default: same name
      labels: [present, absent]   # optional declared label set (label families)
      label_names: {1: neoplasms, 2: digestive}   # optional: what the model sees and answers
      conflicting_repeats: refuse # or drop: a text whose copies disagree (sftdpo.data)
      list_separator: "|"         # options / key_facts in a CSV cell that is not a JSON list

Item fields by family: ``text_classification``, ``numeric_classification`` and ``triage``
need ``text`` and ``label``; ``clinical_reasoning`` needs ``text`` and ``label`` (the answer)
and takes ``options`` (multiple choice when a row has options, free response when it has
none); ``summarization`` needs ``text`` and ``reference`` and takes ``key_facts`` (without a
key_facts column every item is graded against its reference's clauses:
:func:`sftdpo.tasks.summary.reference_facts`; with one, every row needs facts). Every family takes
``id``, ``split`` (train / validation / test, common spellings accepted) and a preference pair
``chosen`` + ``rejected``. A field with no mapping is read from the column of its own name
(case aside) when the file has one; mapping a field to null ignores that column.

Files are read by :mod:`sftdpo.userfiles`, which numbers rows as the user sees them, and each
field of a row by :mod:`sftdpo.usercells`. Every error is a :class:`DataError` whose message
names the file, the row, the field (and its column) and says what was expected. Every field of
every row is checked: one DataError lists all the problems found (the first 50, and how many
more), and a row with a problem is left out of the items (``UserData.problems`` keeps them for
a caller that adds its own).

Values: text fields must be strings (stripped; empty is an error). Labels follow the one rule
of :mod:`sftdpo.labels` (NFC, numbers in one form, case folded unless the declared labels
differ only by case, missing markers an error), which also turns a chosen or rejected answer
that names a label into that label (into its name where labels have ``label_names``, which
must name every label of the set and no other). Lists (options, key_facts) may be JSON
lists, JSON-list strings, or strings joined by ``list_separator`` (empty pieces dropped; key
facts: one per line, else joined by ``list_separator`` or ``;``); options may also be a
mapping such as ``{"A": "...", "B": "..."}``, whose values are the options, and then a label
equal to one of its keys becomes that option's text. Non-UTF-8 bytes in a column the task
uses are an error that gives the line and byte offset; columns the task does not use are not
checked (nor kept).

An item holds ``id`` (the id column as text, else ``row-<n>``), ``text``, the family's fields
(``label``; ``label`` and ``options``, [] for free response; ``reference`` and, where the data
has them, ``key_facts``),
``split`` when the data has splits, ``chosen`` and ``rejected`` on rows that give a pair
(a row may give neither), ``source_row`` (the row's number) and ``source_where`` (the row as
messages name it: "data row 3 (line 4)", "line 3"; :func:`item_where`).

Nothing is deduplicated, split or shuffled here (see :mod:`sftdpo.data`); a ``split`` column
is kept as given.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from .labels import Missing, canonical, case_matters, fold, kept_spellings, look_alikes, names_of
from .usercells import (
    Cell,
    check_gradable,
    read_answer_pair,
    read_group,
    read_id,
    read_key_facts,
    read_label,
    read_options,
    read_split,
    read_text,
)
from .userfiles import DataError, Row, Table, read_table, reported, short
from .userspec import (
    COMMON_OPTIONAL,
    FAMILIES,
    LABEL_FAMILIES,
    checked_spec,
    label_names_problem,
    source_name,
)


@dataclass
class UserData:
    """The items in file order; ``labels`` the declared (in their order) or inferred (sorted)
    label set of a label family, else None; ``source`` the path as configured or the hub id;
    ``n_rows`` the data rows read (blank lines not counted); ``merged`` each label -> the
    other spellings the label rule read as that label (``"1": ["1.0"]``, ``"yes": ["YES"]``).
    ``problems``: every problem found, in row order (rows with one are not in ``items``);
    empty unless :func:`load_user_items` was asked to keep them."""

    items: list[dict]
    labels: tuple[str, ...] | None
    source: str
    n_rows: int
    merged: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    problems: list[DataError] = dataclasses.field(default_factory=list)


def load_user_items(spec: dict, family: str, base_dir: str | Path = ".", *,
                    key: str = "data", keep_problems: bool = False) -> UserData:
    """Read the data ``spec`` describes into items for a task of ``family``.

    ``base_dir`` is where a relative ``path`` starts; ``key`` is how messages name the spec
    (e.g. ``tasks.my_notes.data``). Raises :class:`DataError`: at once for a problem that
    stops the reading (no file, a missing column, a file that does not parse), else one
    listing every problem of the rows (:func:`sftdpo.userfiles.reported`). With
    ``keep_problems`` the rows' problems are returned in ``UserData.problems`` instead, with
    the items of the other rows, so a caller can add its own before reporting them.
    """
    source = source_name(spec)
    if family not in FAMILIES:
        raise DataError(f"{source}: family '{family}' cannot take user data; expected one of: "
                        f"{', '.join(FAMILIES)}", source=source, field="family")
    spec = checked_spec(spec, family, key, source)
    table = read_table(spec, Path(base_dir), key, source)
    data = _normalise(table, spec, family, key)
    if data.problems and not keep_problems:
        raise reported(data.problems, source)
    return data


def row_where(item: dict) -> str:
    """An item's row as the messages about its file name it (``source_where``: "data row 17
    (line 18)" for CSV, "line 17" for JSONL), "row 17" where an item has only its
    ``source_row``, "item 'a7'" for built-in data."""
    if "source_row" not in item:
        return f"item {item['id']!r}"
    return item.get("source_where") or f"row {item['source_row']}"


def item_where(item: dict) -> str:
    """Where an item came from, as the user can find it: its row as the file's messages name
    it (``source_where``: "data row 17 (line 18) (id 'a7')" for a CSV file, "line 17" for
    JSONL), "row 17" where an item has only its ``source_row``, "item 'a7'" for built-in
    data."""
    where = row_where(item)
    if "source_row" not in item or item["id"] == f"row-{item['source_row']}":
        return where
    return f"{where} (id {item['id']!r})"


# ---------------------------------------------------------------------------- normalising


def _default_column(table: Table, field: str, key: str) -> str | None:
    """The column an unmapped field is read from: the one named like the field, case aside.
    Two such columns, or a split column by another name, are errors."""
    same = [c for c in table.columns if c.strip().casefold() == field]
    if len(same) > 1:
        raise DataError(
            f"{table.source}, {table.header}, field '{field}': {table.noun}s "
            f"{', '.join(repr(c) for c in same)} both name it; expected one, or "
            f"{key}.columns.{field} naming the one to use", source=table.source, field=field)
    if same:
        return same[0]
    near = [c for c in table.columns if field == "split" and "split" in c.casefold()]
    if near:
        raise DataError(
            f"{table.source}, {table.header}, field 'split': no {table.noun} 'split', but "
            f"{table.noun} {near[0]!r} looks like one; expected {key}.columns.split: "
            f"{near[0]} to use its splits, or {key}.columns.split: null to split the items "
            f"here", source=table.source, field="split")
    return None


def _resolve_columns(table: Table, spec: dict, family: str, key: str) -> dict[str, str]:
    """Item field -> column, for every field this family uses and the data has."""
    mapping = spec["columns"]
    required, optional = FAMILIES[family]
    have = ", ".join(table.columns) or "none"
    if len(table.columns) == 1 and re.search(r"[,;\t|]", table.columns[0]):
        have += " (one column only: is the delimiter right? csv needs ',', tsv tabs)"
    resolved: dict[str, str] = {}
    for field in required + optional + COMMON_OPTIONAL:
        if field in mapping:
            column = mapping[field]
            if column is None:
                continue
            if column not in table.columns:
                raise DataError(
                    f"{table.source}, {table.header}, field '{field}': no {table.noun} "
                    f"'{column}' ({key}.columns.{field}); expected a {table.noun} of that "
                    f"name; the data has {table.noun}s: {have}",
                    source=table.source, field=field)
            resolved[field] = column
        elif (column := _default_column(table, field, key)) is not None:
            resolved[field] = column
        elif field in required:
            raise DataError(
                f"{table.source}, {table.header}, field '{field}': no {table.noun} '{field}' and "
                f"{key}.columns does not map '{field}'; expected a {table.noun} for field "
                f"'{field}' (family '{family}' needs {', '.join(required)}), e.g. "
                f"{key}.columns: {{{field}: <{table.noun}>}}; the data has {table.noun}s: {have}",
                source=table.source, field=field)
    if ("chosen" in resolved) != ("rejected" in resolved):
        given, missing = ("chosen", "rejected") if "chosen" in resolved else (
            "rejected", "chosen")
        raise DataError(
            f"{table.source}, {table.header}, field '{missing}': field '{given}' has "
            f"{table.noun} '{resolved[given]}' but '{missing}' has none; expected both chosen "
            f"and rejected (a preference pair) or neither; the data has {table.noun}s: {have}",
            source=table.source, field=missing)
    return resolved


class _Checks:
    """The checks of one row: ``take`` runs one and records its DataError in ``problems``
    (then returns None), so every field of every row is checked."""

    def __init__(self, problems: list[DataError]):
        self.problems, self.ok = problems, True

    def take(self, check, *args):
        try:
            return check(*args)
        except DataError as error:
            self.problems.append(error)
            self.ok = False
            return None


def _normalise(table: Table, spec: dict, family: str, key: str) -> UserData:
    if not table.rows:
        if table.problems:
            raise reported(table.problems, table.source)
        raise DataError(f"{table.source}: is empty ({table.empty}); expected at least one "
                        f"data row", source=table.source)
    columns = _resolve_columns(table, spec, family, key)
    problems: list[DataError] = list(table.problems)
    items: list[dict] = []
    label_cells: list[Cell] = []
    rejected_cells: list[Cell | None] = []   # per item: where its rejected answer is
    first_row_of: dict[str, Row] = {}
    for row in table.rows:
        read = _read_row(table, row, columns, spec, family, first_row_of, problems)
        if read is not None:
            items.append(read[0])
            label_cells.append(read[1])
            rejected_cells.append(read[2])

    labels, merged = None, {}
    if family in LABEL_FAMILIES and items:
        labels, merged, items = _label_set(items, label_cells, rejected_cells, spec, key,
                                           problems)
        if len(labels) < 2 and not problems:
            column = columns["label"]
            problems.append(DataError(
                f"{table.source}, all rows, field 'label' ({table.noun} '{column}'): every row "
                f"has the label '{labels[0]}'; expected at least 2 classes",
                source=table.source, field="label"))
    problems.sort(key=lambda problem: (problem.row is None, problem.row or 0))
    return UserData(items=items, labels=labels, source=table.source, n_rows=len(table.rows),
                    merged=merged, problems=problems)


def _read_row(table: Table, row: Row, columns: dict[str, str], spec: dict, family: str,
              first_row_of: dict[str, Row], problems: list[DataError]):
    """The item of ``row``, its label cell and its rejected answer's cell (None where it has
    none); None when a field has a problem (each one is added to ``problems``)."""
    def cell(field: str) -> Cell:
        return Cell(table, row, field, columns.get(field))

    check = _Checks(problems)
    separator = spec["list_separator"]
    item: dict = {"id": (check.take(read_id, cell("id"), first_row_of) if "id" in columns
                         else f"row-{row.number}")}
    item["text"] = check.take(read_text, cell("text"))
    label_cell = None
    if family == "summarization":
        item["reference"] = check.take(read_text, cell("reference"), "reference text")
        if "key_facts" in columns:
            item["key_facts"] = check.take(read_key_facts, cell("key_facts"), separator)
        elif item["reference"] is not None:
            check.take(check_gradable, cell("reference"), item["reference"])
    else:
        label_cell = cell("label")
        label = check.take(read_label, label_cell)
        if label is not None and family == "clinical_reasoning":
            label = check.take(read_options, cell("options"), label_cell, label, separator, item)
        item["label"] = label
    if "group" in columns:
        item["group"] = check.take(read_group, cell("group"))
    if "split" in columns:
        item["split"] = check.take(read_split, cell("split"))
    elif row.split is not None:
        split_cell = Cell(table, row, "split", None, "the DatasetDict's split name; or map "
                           "a split column in columns.split")
        split_cell.value, split_cell.present = row.split, True
        item["split"] = check.take(read_split, split_cell)
    if "chosen" in columns:
        pair = check.take(read_answer_pair, cell("chosen"), cell("rejected"))
        if pair is not None:
            item["chosen"], item["rejected"] = pair
    item["source_row"] = row.number
    item["source_where"] = row.where
    if not check.ok:
        return None
    return item, label_cell, cell("rejected") if "rejected" in item else None


def _label_set(items: list[dict], cells: list[Cell], rejected_cells: list[Cell | None],
               spec: dict, key: str, problems: list[DataError]):
    """Each item's label as the label it stands for (rules 4-6 of :mod:`sftdpo.labels`), the
    same for a chosen or rejected answer that is a label or a label's name (which becomes the
    name where labels have names, rule 7); returns the label set (the declared one, else the
    labels found, sorted), the spellings merged into each label, and the items whose label
    passes (a problem of each other one is added to ``problems``)."""
    declared, names = spec["labels"], spec.get("label_names")
    if declared is not None:
        strict = case_matters(declared)
        spelling = {fold(label, strict): label for label in declared}
        labels = declared
    else:
        strict = False
        spelling = {fold(s, strict): label for s, label in
                    kept_spellings([item["label"] for item in items]).items()}
        labels = tuple(sorted(set(spelling.values())))
    named = names_of(labels, names)
    by_name = {name.casefold(): label for label, name in named.items()}
    merged: dict[str, set[str]] = {}
    kept = []
    for item, cell, rejected_cell in zip(items, cells, rejected_cells, strict=True):
        label = spelling.get(fold(item["label"], strict))
        if label is None:
            near = difflib.get_close_matches(item["label"], declared, n=1, cutoff=0.6)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            problems.append(cell.problem(f"label {short(item['label'])} is not declared{hint}",
                                         f"one of: {', '.join(declared)} ({key}.labels)"))
            continue
        item["label"] = label
        for answer in ("chosen", "rejected"):
            if answer in item:
                try:
                    text = canonical(item[answer])
                except Missing:
                    continue
                meant = by_name.get(text.casefold()) or spelling.get(fold(text, strict))
                if meant is not None:
                    item[answer] = named.get(meant, meant)
        if rejected_cell is not None and item["chosen"] == item["rejected"]:
            problems.append(rejected_cell.problem(
                f"the same label as chosen ('{item['chosen']}') by the label rule",
                "a rejected answer that is another label"))
            continue
        raw = cell.value.strip() if isinstance(cell.value, str) else str(cell.value)
        if raw != label:
            merged.setdefault(label, set()).add(raw)
        kept.append(item)
    merged_sorted = {label: sorted(merged[label]) for label in sorted(merged)}
    first = cells[0]
    if declared is None:
        for group in look_alikes(labels):
            rows = {label: [c.row.where for i, c in zip(items, cells, strict=True)
                            if i["label"] == label] for label in group}
            listed = "; ".join(f"'{label}' ({_first_rows(where)})"
                               for label, where in rows.items())
            problems.append(DataError(
                f"{first.table.source}, all rows, field 'label' ({first.origin}): labels that "
                f"differ only by spacing or punctuation: {listed}; expected one spelling per "
                f"label: correct the data, or declare the label set ({key}.labels: [...]) to "
                f"keep them apart", source=first.table.source, field="label"))
        # With a problem in a row its label may be missing from the set: checked once the
        # rows are right.
        problem = None if problems or not names else label_names_problem(
            labels, names, "inferred from the data")
        if problem:
            problems.append(DataError(f"{first.table.source}: {key}.label_names: {problem[0]}; "
                                      f"expected {problem[1]}", source=first.table.source,
                                      field=f"{key}.label_names"))
    return labels, merged_sorted, kept


def _first_rows(where: list[str], shown: int = 3) -> str:
    more = f" and {len(where) - shown} more" if len(where) > shown else ""
    return ", ".join(where[:shown]) + more
