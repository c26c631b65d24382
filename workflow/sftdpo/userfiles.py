"""A user's data file (or folder, or hub dataset) read into rows, and the files a spec names.

Formats: CSV / TSV (a header row, then data rows; a leading UTF-8 BOM is dropped), JSONL (one
object per line, blank lines skipped), JSON (an array of objects, or JSONL), Parquet, a folder
written by ``datasets``' ``save_to_disk`` (a Dataset or a DatasetDict, whose split names
become the rows' splits) and a hub dataset (``datasets.load_dataset``). Rows are numbered as
the user sees them: CSV/TSV by data row (1 = the first row under the header) with the file
line in brackets, JSONL by file line, JSON arrays by record, Parquet and datasets by row.
Bytes that are not UTF-8 are kept as lone surrogates, so a row is only refused when a column
the task uses holds one (:mod:`sftdpo.usercells` checks the cells). A row that does not parse
(a CSV row with too many or too few fields, a JSONL line that is not a JSON object) is left
out and listed in ``Table.problems``, so one report names them all (:func:`reported`); a file
that cannot be read on (a quote never closed, a JSON array that does not parse) stops at once.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import numbers
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet", "datasets")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
BAD_BYTE = re.compile("[\udc80-\udcff]")


# A report of many problems lists this many and counts the rest.
LISTED_PROBLEMS = 50


class DataError(ValueError):
    """A user's data cannot be used as it is; the message says where and what was expected.

    ``source`` is the file (as written in the config) or hub id, ``row`` the row number as the
    user sees it (None when the problem is not in one row), ``field`` the item field or config
    key concerned (None when the problem is not in one field). ``problems`` holds every
    problem found (this error itself when it is the only one): see :func:`reported`.
    """

    def __init__(self, message: str, *, source: str | None = None, row: int | None = None,
                 field: str | None = None, problems: list[DataError] | None = None):
        super().__init__(message)
        self.source, self.row, self.field = source, row, field
        self.problems = problems if problems is not None else [self]


def reported(problems: list[DataError], source: str) -> DataError:
    """One DataError for every problem in ``problems`` (not empty): the problem itself when it
    is the only one; else a message that counts them, then lists the first
    ``LISTED_PROBLEMS`` one a line (each naming its file, row and field, and saying what was
    expected) and counts the rest. Its ``row`` and ``field`` are the first problem's."""
    if len(problems) == 1:
        return problems[0]
    lines = [f"  {problem}" for problem in problems[:LISTED_PROBLEMS]]
    if len(problems) > LISTED_PROBLEMS:
        lines.append(f"  and {len(problems) - LISTED_PROBLEMS} more")
    first = problems[0]
    return DataError(f"{source}: {len(problems)} problems; each line names the row and the "
                     f"field and says what was expected (correct them all, then run again):\n"
                     + "\n".join(lines), source=source, row=first.row, field=first.field,
                     problems=list(problems))


@dataclass
class Row:
    number: int                        # the row as the user sees it (source_row)
    where: str                         # how a message points at it
    values: dict
    lines: tuple[int, int] | None = None   # first and last file line it spans
    split: str | None = None           # the split of a DatasetDict it came from


@dataclass
class Table:
    source: str
    noun: str                          # "column" or "key"
    columns: list[str]
    rows: list[Row]
    header: str                        # where a missing column is reported
    bad_bytes: dict[int, tuple[int, int, bytes]]   # line -> (byte of line, file offset, bytes)
    empty: str = "no rows"             # what the data holds when it has no rows
    # Rows that could not be read (left out of ``rows``), one DataError each.
    problems: list[DataError] = field(default_factory=list)


def existing_path(spec: dict, base_dir: str | Path, key: str) -> Path:
    """The file or folder ``spec["path"]`` names (relative to ``base_dir``); a DataError when
    there is none, or when it is a link that leads nowhere."""
    source = str(spec["path"])
    path = Path(spec["path"])
    if not path.is_absolute():
        path = Path(base_dir) / path
    try:
        path.stat()
    except OSError as error:
        looked = os.path.abspath(path)
        if path.is_symlink():
            problem = (f"is a symbolic link that leads nowhere ({looked}: "
                       f"{error.strerror.lower()})")
        else:
            problem = f"not found (looked for {looked})"
        raise DataError(
            f"{source}: {problem}; expected an existing csv, tsv, jsonl, json or parquet "
            f"file, or a folder saved by datasets' save_to_disk ({key}.path)",
            source=source, field=f"{key}.path") from None
    return path


def data_files(spec: dict, base_dir: str | Path, key: str) -> list[str]:
    """The files the data of ``spec`` is read from, as paths to give a rule as input: the
    file, or every file in the folder; none for a hub dataset (its revision pins it)."""
    if spec.get("path") is None:
        return []
    path = existing_path(spec, base_dir, key)
    if not path.is_dir():
        return [str(spec["path"])]
    return sorted(str(Path(spec["path"]) / file.relative_to(path))
                  for file in path.rglob("*") if file.is_file())


def read_table(spec: dict, base_dir: Path, key: str, source: str) -> Table:
    if spec.get("hub_id") is not None:
        return _read_hub(spec, source)
    path = existing_path(spec, base_dir, key)
    fmt = spec.get("format")
    if fmt is None:
        if path.is_dir():
            fmt = "datasets"
        else:
            fmt = EXTENSIONS.get(path.suffix.lower())
            if fmt is None:
                raise DataError(
                    f"{source}: unknown format (extension '{path.suffix or 'none'}'); "
                    f"expected one of "
                    f"{', '.join(EXTENSIONS)}, a save_to_disk folder, or {key}.format set to "
                    f"one of: {', '.join(FORMATS)}", source=source, field=f"{key}.format")
    elif path.is_dir() != (fmt == "datasets"):
        kind = "a folder" if path.is_dir() else "a file"
        wanted = "a folder saved by save_to_disk" if fmt == "datasets" else f"a {fmt} file"
        raise DataError(f"{source}: is {kind} but {key}.format is '{fmt}'; expected {wanted}",
                        source=source, field=f"{key}.format")
    if fmt in ("csv", "tsv"):
        return _read_delimited(path, source, "\t" if fmt == "tsv" else ",", fmt.upper())
    if fmt in ("jsonl", "json"):
        return _read_json(path, source, fmt)
    if fmt == "parquet":
        return _read_parquet(path, source)
    return _read_saved_dataset(path, source)


def _decode(raw: bytes) -> tuple[str, dict[int, tuple[int, int, bytes]]]:
    """The text of a UTF-8 file (a leading BOM dropped), and where its bytes are not UTF-8.

    Bad bytes are kept as lone surrogates (surrogateescape), so a row is only refused when a
    column the task uses holds one.
    """
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    body = raw[start:]
    try:
        return body.decode("utf-8"), {}
    except UnicodeDecodeError:
        pass
    bad: dict[int, tuple[int, int, bytes]] = {}
    offset = start
    for number, line in enumerate(body.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            bad[number] = (error.start + 1, offset + error.start, line[error.start:error.end])
        offset += len(line) + 1
    return body.decode("utf-8", errors="surrogateescape"), bad


def _lines_where(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _data_row_where(number: int, first: int, last: int | None = None) -> str:
    """A CSV/TSV row as every message names it: "data row 3 (line 4)" (1 = the first row under
    the header), "data row 3 (lines 4-6)" for a row with line breaks in a quoted cell."""
    return f"data row {number} ({_lines_where(first, first if last is None else last)})"


def _read_delimited(path: Path, source: str, delimiter: str, name: str) -> Table:
    text, bad = _decode(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[Row] = []
    problems: list[DataError] = []
    number = 0                         # data rows read, those that do not parse too
    last_line = 0
    old_limit = csv.field_size_limit(2**31 - 1)
    try:
        while True:
            first = last_line + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                unclosed = "end of data" in str(error)
                line = first if unclosed else reader.line_num
                where = (_data_row_where(number + 1, line) if header is not None
                         else f"header (line {line})")
                hint = ("a quote opened on this row is never closed: the file ends inside it"
                        if unclosed else str(error))
                raise DataError(f"{source}, {where}: does not parse as {name} ({hint}); "
                                f"expected {name} rows, with quotes around cells that hold "
                                f"the delimiter, quotes or line breaks", source=source,
                                row=number + 1 if header is not None else None) from None
            last_line = reader.line_num
            if not record:
                continue
            if header is None:
                header, header_line = [cell.strip() for cell in record], first
                _check_header(header, source, f"header (line {first})", bad, first)
                continue
            number += 1
            where = _data_row_where(number, first, last_line)
            if len(record) != len(header):
                hint = (f" (the row runs over lines {first}-{last_line}: an unclosed quote?)"
                        if last_line > first else "")
                problems.append(DataError(
                    f"{source}, {where}: has {len(record)} fields{hint}; expected "
                    f"{len(header)} fields, one per header column ({', '.join(header)})",
                    source=source, row=number))
                continue
            rows.append(Row(number, where, dict(zip(header, record, strict=True)),
                             (first, last_line)))
    finally:
        csv.field_size_limit(old_limit)
    if header is None:
        raise DataError(f"{source}: the file is empty; expected a header row and data rows",
                        source=source)
    return Table(source, "column", header, rows, f"header (line {header_line})", bad,
                 "a header and no data rows", problems)


def _check_header(header: list[str], source: str, where: str, bad: dict, line: int) -> None:
    for column in header:
        if BAD_BYTE.search(column):
            byte, offset, raw = bad[line]
            raise DataError(f"{source}, {where}: a column name is not valid UTF-8 (byte "
                            f"{raw.hex(' ')} at byte {byte} of line {line}, file offset "
                            f"{offset}); expected UTF-8 text: save the file as UTF-8",
                            source=source)
    seen = set()
    for column in header:
        if column in seen:
            raise DataError(f"{source}, {where}: column '{column}' appears twice; expected "
                            f"each column name once", source=source, field=column)
        seen.add(column)


def _read_json(path: Path, source: str, fmt: str) -> Table:
    text, bad = _decode(path.read_bytes())
    if fmt == "json" and text.lstrip().startswith("["):
        return _read_json_array(text, source, bad)
    rows: list[Row] = []
    problems: list[DataError] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            if number == 1 and line.strip() == "[":  # one array: nothing else will parse
                raise DataError(f"{source}, line 1: not valid JSON ({error.msg} at character "
                                f"{error.colno}) (the file looks like one JSON array: name it "
                                f".json or set format: json); expected one JSON object per "
                                f"line", source=source, row=number) from None
            problems.append(DataError(f"{source}, line {number}: not valid JSON ({error.msg} "
                                      f"at character {error.colno}); expected one JSON object "
                                      f"per line", source=source, row=number))
            continue
        if not isinstance(value, dict):
            problems.append(DataError(f"{source}, line {number}: is {value_kind(value)}; "
                                      f"expected one JSON object ({{...}}) per line",
                                      source=source, row=number))
            continue
        rows.append(Row(number, f"line {number}", value, (number, number)))
    return Table(source, "key", _union_keys(rows), rows, "all lines", bad,
                 "no lines with data" if text.strip() else "0 bytes or blank lines only",
                 problems)


def _read_json_array(text: str, source: str, bad: dict) -> Table:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{source}, line {error.lineno}: not valid JSON ({error.msg} at "
                        f"character {error.colno}); expected a JSON array of objects or one "
                        f"JSON object per line", source=source) from None
    rows, problems = [], []
    for number, value in enumerate(records, start=1):
        if not isinstance(value, dict):
            problems.append(DataError(f"{source}, record {number}: is {value_kind(value)}; "
                                      f"expected a JSON object ({{...}}) per record",
                                      source=source, row=number))
            continue
        rows.append(Row(number, f"record {number}", value))
    return Table(source, "key", _union_keys(rows), rows, "all records", bad,
                 "an empty JSON array", problems)


def _union_keys(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(name for row in rows for name in row.values))


def _read_parquet(path: Path, source: str) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{source}: not a readable Parquet file ({error}); expected a Parquet "
                        f"file", source=source) from None
    rows = [Row(n, f"row {n}", values) for n, values in enumerate(table.to_pylist(), start=1)]
    return Table(source, "column", list(table.column_names), rows, "all rows", {})


def _read_saved_dataset(path: Path, source: str) -> Table:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise DataError(f"{source}: not a dataset folder ({error}); expected a folder written "
                        f"by datasets' save_to_disk", source=source) from None
    return _table_from_dataset(loaded, source)


def _read_hub(spec: dict, source: str) -> Table:
    import datasets

    kwargs = {}
    if spec.get("config") is not None:
        kwargs["name"] = spec["config"]
    if spec.get("revision") is not None:
        kwargs["revision"] = spec["revision"]
    try:
        loaded = datasets.load_dataset(spec["hub_id"], **kwargs)
    except Exception as error:  # any failure of the hub is the user's to see
        raise DataError(f"{source}: the hub dataset could not be loaded ({type(error).__name__}: "
                        f"{error}); expected a dataset id (and config, revision) that "
                        f"datasets.load_dataset can load", source=source) from error
    return _table_from_dataset(loaded, source)


def _table_from_dataset(loaded, source: str) -> Table:
    """Rows of a Dataset, or of every split of a DatasetDict in order, numbered throughout."""
    import datasets

    parts = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    rows: list[Row] = []
    columns: list[str] = []
    for split, part in parts:
        if not isinstance(part, datasets.Dataset):
            raise DataError(f"{source}: is {type(part).__name__}; expected a Dataset or "
                            f"DatasetDict (no streaming)", source=source)
        columns += [c for c in part.column_names if c not in columns]
        for index, values in enumerate(part.to_list(), start=1):
            number = len(rows) + 1
            where = f"row {number}" if split is None else (
                f"row {number} (split '{split}', row {index})")
            rows.append(Row(number, where, values, split=split))
    return Table(source, "column", columns, rows, "all rows", {})


def value_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, numbers.Number):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({short(value)})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a value of type {type(value).__name__}"


def short(text: str, limit: int = 60) -> str:
    text = BAD_BYTE.sub("\ufffd", text)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")

