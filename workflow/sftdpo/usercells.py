"""One field of one row of a user's data read into an item's value (:class:`Cell` and the
readers of each kind of field: text, label, id, group, split, key facts, options, a preference
pair), each refusing a bad value with a :class:`sftdpo.userfiles.DataError` that names the
file, the row, the field and its column, and says what was expected. The rules are
:mod:`sftdpo.userdata`'s (its module docstring); it reads the rows with these."""

from __future__ import annotations

import difflib
import json
import math
import numbers

from .labels import Missing, canonical, nfc
from .tasks.summary import reference_facts
from .userfiles import BAD_BYTE, DataError, Row, Table, short, value_kind

SPLIT_SPELLINGS = {
    "train": "train", "training": "train",
    "validation": "validation", "validate": "validation", "valid": "validation",
    "val": "validation", "dev": "validation",
    "test": "test", "testing": "test",
}
_SPLITS_EXPECTED = ("train, validation or test (or training, validate, valid, val, dev, "
                    "testing)")


class Cell:
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


def is_empty(value) -> bool:
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


def read_text(cell: Cell, what: str = "text") -> str:
    if is_empty(cell.value):
        cell.fail(cell.empty(), f"non-empty {what}")
    if not isinstance(cell.value, str):
        cell.fail(f"is {value_kind(cell.value)}", f"{what} (a string)")
    return cell.checked(cell.value.strip())


def read_label(cell: Cell) -> str:
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


def _identifier(cell: Cell) -> str:
    if is_empty(cell.value):
        cell.fail(cell.empty(), "an id in every row")
    ident = None if isinstance(cell.value, bool) else _scalar_text(cell.value)
    if ident is None:
        cell.fail(f"is {value_kind(cell.value)}", "an id (text or a whole number)")
    return cell.checked(ident)


def read_group(cell: Cell) -> str:
    """A group name (a patient id, a source): a number is kept as its text ("17", not
    "17.0"), as ids are."""
    if is_empty(cell.value):
        cell.fail(cell.empty(), "a group in every row, as the data has a group column (every "
                  "item of a patient or source in one split)")
    return _identifier(cell)


def read_split(cell: Cell) -> str:
    value = cell.value
    if isinstance(value, str) and value.strip().casefold() in SPLIT_SPELLINGS:
        return SPLIT_SPELLINGS[value.strip().casefold()]
    if is_empty(value):
        cell.fail(cell.empty(), f"a split name: {_SPLITS_EXPECTED}")
    shown = short(value) if isinstance(value, str) else value_kind(value)
    cell.fail(f"unknown split {shown}", _SPLITS_EXPECTED)


def _list(cell: Cell, separator: str, what: str,
          facts: bool = False) -> list[str] | dict[str, str]:
    """A list of stripped strings (or, for a mapping, key -> string); [] when empty. A string
    that is not JSON is split at ``separator``; with ``facts`` (key facts), at line breaks if
    it has any, else at ``separator`` if it holds one, else at ';'."""
    value = cell.value
    if is_empty(value):
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


def _list_entry(cell: Cell, value, what: str) -> str:
    entry = _scalar_text(value)
    if entry is None or isinstance(value, bool):
        cell.fail(f"holds {value_kind(value)}", f"a list of {what} (text or numbers)")
    if not entry:
        cell.fail("holds an empty entry", f"a list of non-empty {what}")
    return cell.checked(entry)


def read_id(cell: Cell, first_row_of: dict[str, Row]) -> str:
    ident = _identifier(cell)
    if ident in first_row_of:
        cell.fail(f"duplicate id {short(ident)}", "each id once",
                  where=f"{first_row_of[ident].where} and {cell.row.where}")
    first_row_of[ident] = cell.row
    return ident


def read_key_facts(cell: Cell, separator: str) -> list[str]:
    facts = _list(cell, separator, "key facts", facts=True)
    if isinstance(facts, dict):
        facts = list(facts.values())
    if not facts:
        cell.fail("no key facts", f"at least one key fact (a JSON list, one fact per line, or "
                  f"facts joined by '{separator}' or ';') in every row, as the data has a "
                  f"key_facts column; or columns.key_facts: null to grade every row against "
                  f"its reference's clauses")
    return facts


def check_gradable(cell: Cell, reference: str) -> None:
    if not reference_facts(reference):
        cell.fail(f"no clause with a content word ({short(reference)})",
                  "a reference the rubric can grade against, as the data has no key_facts "
                  "column (its clauses are the facts); or a key_facts column")


def read_answer_pair(chosen_cell: Cell, rejected_cell: Cell) -> tuple[str, str] | None:
    """The row's chosen and rejected answers; None when it gives neither."""
    if is_empty(chosen_cell.value) and is_empty(rejected_cell.value):
        return None
    if is_empty(rejected_cell.value):
        rejected_cell.fail("empty, but chosen is given",
                           "both chosen and rejected in a row, or neither")
    if is_empty(chosen_cell.value):
        chosen_cell.fail("empty, but rejected is given",
                         "both chosen and rejected in a row, or neither")
    chosen = read_text(chosen_cell, "chosen answer text")
    rejected = read_text(rejected_cell, "rejected answer text")
    if chosen == rejected:
        rejected_cell.fail("the same text as chosen",
                           "a rejected answer that differs from the chosen one")
    return chosen, rejected


def read_options(cell: Cell, label_cell: Cell, label: str, separator: str, item: dict) -> str:
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
