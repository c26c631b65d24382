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

Files are read by :mod:`sftdpo.userfiles`, which numbers rows as the user sees them. Every
error is a :class:`DataError` whose message names the file, the row, the field (and its
column) and says what was expected. Every field of every row is checked: one DataError lists
all the problems found (the first 50, and how many more), and a row with a problem is left
out of the items (``UserData.problems`` keeps them for a caller that adds its own).

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
import json
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

from .labels import (
    Missing,
    canonical,
    case_matters,
    fold,
    kept_spellings,
    look_alikes,
    names_of,
    nfc,
)
from .tasks.summary import reference_facts
from .userfiles import BAD_BYTE, DataError, Row, Table, read_table, reported, short, value_kind
from .userspec import (
    COMMON_OPTIONAL,
    FAMILIES,
    LABEL_FAMILIES,
    checked_spec,
    label_names_problem,
    source_name,
)

SPLIT_SPELLINGS = {
    "train": "train", "training": "train",
    "validation": "validation", "validate": "validation", "valid": "validation",
    "val": "validation", "dev": "validation",
    "test": "test", "testing": "test",
}
_SPLITS_EXPECTED = ("train, validation or test (or training, validate, valid, val, dev, "
                    "testing)")


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


# ---------------------------------------------------------------------------- normalising


class _Cell:
    """One field of one row, and how to say what is wrong with it."""

    def __init__(self, table: Table, row: Row, field: str, column: str | None,
                 origin: str | None = None):
        self.table, self.row, self.field, self.column = table, row, field, column
        self.present = column is not None and column in row.values
        self.value = row.values.get(column) if column is not None else None
        self.origin = origin or (f"{table.noun} '{column}'" if column is not None else None)

    def problem(self, problem: str, expected: str, where: str | None = None) -> DataError:
        what = f"field '{self.field}'" + (f" ({self.origin})" if self.origin else "")
        return DataError(f"{self.table.source}, {where or self.row.where}, {what}: {problem}; "
                         f"expected {expected}", source=self.table.source, row=self.row.number,
                         field=self.field)

    def fail(self, problem: str, expected: str, where: str | None = None):
        raise self.problem(problem, expected, where)

    def empty(self) -> str:
        """How an empty value reads in a message."""
        if not self.present:
            return f"missing (no {self.table.noun} '{self.column}' in this row)"
        return "empty (null)" if self.value is None else "empty"

    def checked(self, text: str) -> str:
        """``text``, refused when it holds bytes that were not UTF-8 in the file."""
        if BAD_BYTE.search(text):
            spans = self.row.lines
            hits = sorted(line for line in self.table.bad_bytes
                          if spans is None or spans[0] <= line <= spans[1])
            if hits:
                byte, offset, raw = self.table.bad_bytes[hits[0]]
                at = (f"byte {raw.hex(' ')} at byte {byte} of line {hits[0]}, file offset "
                      f"{offset}")
            else:
                at = "undecodable bytes"
            self.fail(f"not valid UTF-8 ({at})", "UTF-8 text: save the file as UTF-8")
        return text


def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()



def _scalar_text(value) -> str | None:
    """Text, a number (an integral float without its .0) or a boolean as a stripped string;
    None for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value.strip()
    return None


def _text(cell: _Cell, what: str = "text") -> str:
    if _is_empty(cell.value):
        cell.fail(cell.empty(), f"non-empty {what}")
    if not isinstance(cell.value, str):
        cell.fail(f"is {value_kind(cell.value)}", f"{what} (a string)")
    return cell.checked(cell.value.strip())


def _label(cell: _Cell) -> str:
    """The cell's label under the rule of :mod:`sftdpo.labels` (case not yet folded)."""
    if not cell.present:
        cell.fail(cell.empty(), "a label (text or a number)")
    try:
        label = canonical(cell.value)
    except Missing as missing:
        cell.fail(f"missing value ({missing.shown})", "a label in every row: fill it in or "
                  "drop the row (empty, N/A, NA, NaN, None, null and infinite numbers mark a "
                  "missing value, never a label)")
    if label is None:
        cell.fail(f"is {value_kind(cell.value)}", "a label (text or a number)")
    return cell.checked(label)


def _identifier(cell: _Cell) -> str:
    if _is_empty(cell.value):
        cell.fail(cell.empty(), "an id in every row")
    ident = None if isinstance(cell.value, bool) else _scalar_text(cell.value)
    if ident is None:
        cell.fail(f"is {value_kind(cell.value)}", "an id (text or a whole number)")
    return cell.checked(ident)


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


def _group(cell: _Cell) -> str:
    """A group name (a patient id, a source): a number is kept as its text ("17", not
    "17.0"), as ids are."""
    if _is_empty(cell.value):
        cell.fail(cell.empty(), "a group in every row, as the data has a group column (every "
                  "item of a patient or source in one split)")
    return _identifier(cell)


def _split(cell: _Cell) -> str:
    value = cell.value
    if isinstance(value, str) and value.strip().casefold() in SPLIT_SPELLINGS:
        return SPLIT_SPELLINGS[value.strip().casefold()]
    if _is_empty(value):
        cell.fail(cell.empty(), f"a split name: {_SPLITS_EXPECTED}")
    shown = short(value) if isinstance(value, str) else value_kind(value)
    cell.fail(f"unknown split {shown}", _SPLITS_EXPECTED)


def _list(cell: _Cell, separator: str, what: str,
          facts: bool = False) -> list[str] | dict[str, str]:
    """A list of stripped strings (or, for a mapping, key -> string); [] when empty. A string
    that is not JSON is split at ``separator``; with ``facts`` (key facts), at line breaks if
    it has any, else at ``separator`` if it holds one, else at ';'."""
    value = cell.value
    if _is_empty(value):
        return []
    if isinstance(value, str):
        stripped = cell.checked(value.strip())
        if stripped[0] in "[{":
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as error:
                cell.fail(f"looks like JSON but does not parse ({error.msg} at character "
                          f"{error.colno})", f"a JSON list of {what} or {what} joined by "
                          f"'{separator}'")
        else:
            if facts:
                separator = ("\n" if "\n" in stripped else separator if separator in stripped
                             else ";")
            return [piece.strip() for piece in stripped.split(separator) if piece.strip()]
    if isinstance(value, dict):
        return {str(k).strip(): _list_entry(cell, v, what) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_list_entry(cell, v, what) for v in value]
    cell.fail(f"is {value_kind(value)}", f"a list of {what}, a JSON-list string or {what} joined "
              f"by '{separator}'")


def _list_entry(cell: _Cell, value, what: str) -> str:
    entry = _scalar_text(value)
    if entry is None or isinstance(value, bool):
        cell.fail(f"holds {value_kind(value)}", f"a list of {what} (text or numbers)")
    if not entry:
        cell.fail("holds an empty entry", f"a list of non-empty {what}")
    return cell.checked(entry)


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
    label_cells: list[_Cell] = []
    rejected_cells: list[_Cell | None] = []   # per item: where its rejected answer is
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
    def cell(field: str) -> _Cell:
        return _Cell(table, row, field, columns.get(field))

    check = _Checks(problems)
    separator = spec["list_separator"]
    item: dict = {"id": (check.take(_row_id, cell("id"), first_row_of) if "id" in columns
                         else f"row-{row.number}")}
    item["text"] = check.take(_text, cell("text"))
    label_cell = None
    if family == "summarization":
        item["reference"] = check.take(_text, cell("reference"), "reference text")
        if "key_facts" in columns:
            item["key_facts"] = check.take(_key_facts, cell("key_facts"), separator)
        elif item["reference"] is not None:
            check.take(_gradable, cell("reference"), item["reference"])
    else:
        label_cell = cell("label")
        label = check.take(_label, label_cell)
        if label is not None and family == "clinical_reasoning":
            label = check.take(_options, cell("options"), label_cell, label, separator, item)
        item["label"] = label
    if "group" in columns:
        item["group"] = check.take(_group, cell("group"))
    if "split" in columns:
        item["split"] = check.take(_split, cell("split"))
    elif row.split is not None:
        split_cell = _Cell(table, row, "split", None, "the DatasetDict's split name; or map "
                           "a split column in columns.split")
        split_cell.value, split_cell.present = row.split, True
        item["split"] = check.take(_split, split_cell)
    if "chosen" in columns:
        pair = check.take(_answer_pair, cell("chosen"), cell("rejected"))
        if pair is not None:
            item["chosen"], item["rejected"] = pair
    item["source_row"] = row.number
    item["source_where"] = row.where
    if not check.ok:
        return None
    return item, label_cell, cell("rejected") if "rejected" in item else None


def _row_id(cell: _Cell, first_row_of: dict[str, Row]) -> str:
    ident = _identifier(cell)
    if ident in first_row_of:
        cell.fail(f"duplicate id {short(ident)}", "each id once",
                  where=f"{first_row_of[ident].where} and {cell.row.where}")
    first_row_of[ident] = cell.row
    return ident


def _key_facts(cell: _Cell, separator: str) -> list[str]:
    facts = _list(cell, separator, "key facts", facts=True)
    if isinstance(facts, dict):
        facts = list(facts.values())
    if not facts:
        cell.fail("no key facts", f"at least one key fact (a JSON list, one fact per line, or "
                  f"facts joined by '{separator}' or ';') in every row, as the data has a "
                  f"key_facts column; or columns.key_facts: null to grade every row against "
                  f"its reference's clauses")
    return facts


def _gradable(cell: _Cell, reference: str) -> None:
    if not reference_facts(reference):
        cell.fail(f"no clause with a content word ({short(reference)})",
                  "a reference the rubric can grade against, as the data has no key_facts "
                  "column (its clauses are the facts); or a key_facts column")


def _answer_pair(chosen_cell: _Cell, rejected_cell: _Cell) -> tuple[str, str] | None:
    """The row's chosen and rejected answers; None when it gives neither."""
    if _is_empty(chosen_cell.value) and _is_empty(rejected_cell.value):
        return None
    if _is_empty(rejected_cell.value):
        rejected_cell.fail("empty, but chosen is given",
                           "both chosen and rejected in a row, or neither")
    if _is_empty(chosen_cell.value):
        chosen_cell.fail("empty, but rejected is given",
                         "both chosen and rejected in a row, or neither")
    chosen = _text(chosen_cell, "chosen answer text")
    rejected = _text(rejected_cell, "rejected answer text")
    if chosen == rejected:
        rejected_cell.fail("the same text as chosen",
                           "a rejected answer that differs from the chosen one")
    return chosen, rejected


def _label_set(items: list[dict], cells: list[_Cell], rejected_cells: list[_Cell | None],
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


def _options(cell: _Cell, label_cell: _Cell, label: str, separator: str, item: dict) -> str:
    """Put the row's options in ``item`` (an empty list: free response); return the label,
    turned into option text when the options are a mapping and the label one of its keys."""
    options = _list(cell, separator, "options") if cell.column is not None else []
    by_key = options if isinstance(options, dict) else {}
    options = list(options.values()) if isinstance(options, dict) else options
    item["options"] = options
    if not options:
        return label
    if len(options) < 2:
        cell.fail(f"{len(options)} option ({short(options[0])})",
                  f"at least 2 options (a JSON list, or options joined by '{separator}'), or "
                  f"none for a free-response question")
    for option in options:
        if options.count(option) > 1:
            cell.fail(f"option {short(option)} appears twice", "each option once")
    if label not in options and label in by_key:
        label = by_key[label]
    same = [o for o in options if nfc(o).casefold() == label.casefold()]
    if label not in options and len(same) == 1:
        label = same[0]
    if label not in options:
        near = difflib.get_close_matches(label, options, n=1, cutoff=0.6)
        hint = f" (did you mean {short(near[0])}?)" if near else ""
        shown = ", ".join(short(o) for o in options)
        label_cell.fail(f"{short(label)} is not among the row's options ({cell.origin}){hint}",
                        f"one of the options: {shown}")
    return label
