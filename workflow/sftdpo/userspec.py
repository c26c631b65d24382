"""The ``tasks.<name>.data`` section of the config, checked before any file is read: its keys,
its column mapping for the task's family, and a declared label set (read by the label rule of
:mod:`sftdpo.labels`)."""

from __future__ import annotations

from pathlib import Path

from .labels import Missing, canonical
from .tasks import FAMILIES as TASK_FAMILIES
from .userfiles import FORMATS, DataError, value_kind

FIELDS = ("id", "text", "label", "options", "reference", "key_facts", "split", "group",
          "chosen", "rejected")
# task kind -> (required fields, optional fields besides the common ones)
KIND_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "label": (("text", "label"), ()),
    "choice": (("text", "label"), ("options",)),
    # Without key facts the rubric grades against the reference's clauses.
    "summary": (("text", "reference"), ("key_facts",)),
}
FAMILIES = {family: KIND_FIELDS[kind.kind] for family, (kind, _) in TASK_FAMILIES.items()}
LABEL_FAMILIES = frozenset(f for f, (kind, _) in TASK_FAMILIES.items() if kind.kind == "label")
COMMON_OPTIONAL = ("id", "split", "group", "chosen", "rejected")
SPEC_KEYS = ("path", "hub_id", "config", "revision", "format", "columns", "labels",
             "list_separator")


def source_name(spec) -> str:
    if isinstance(spec, dict):
        for name in ("path", "hub_id"):
            if isinstance(spec.get(name), str | Path):
                return str(spec[name])
    return "data"


def checked_spec(spec, family: str, key: str, source: str) -> dict:
    def fail(name: str, problem: str, expected: str):
        raise DataError(f"{source}: {key}.{name}: {problem}; expected {expected}",
                        source=source, field=f"{key}.{name}")

    if not isinstance(spec, dict):
        raise DataError(f"{key}: is {value_kind(spec)}; expected a mapping with path or hub_id",
                        source=source, field=key)
    for name in spec:
        if name not in SPEC_KEYS:
            fail(name, "unknown key", f"some of: {', '.join(SPEC_KEYS)}")
    has_path, has_hub = spec.get("path") is not None, spec.get("hub_id") is not None
    if has_path == has_hub:
        raise DataError(f"{source}: {key}: {'both' if has_path else 'neither'} path and hub_id "
                        "given; expected exactly one of them", source=source, field=key)
    for name in ("path", "hub_id", "config", "revision", "format"):
        if spec.get(name) is not None and not isinstance(spec[name], str | Path):
            fail(name, f"is {value_kind(spec[name])}", "a string")
    for name in ("config", "revision"):
        if spec.get(name) is not None and not has_hub:
            fail(name, "given with path", "it only with hub_id")
    if spec.get("format") is not None:
        if has_hub:
            fail("format", "given with hub_id", "it only with path")
        if spec["format"] not in FORMATS:
            fail("format", f"unknown format '{spec['format']}'", f"one of: {', '.join(FORMATS)}")
    columns = spec.get("columns") or {}
    if not isinstance(columns, dict):
        fail("columns", f"is {value_kind(columns)}", "a mapping of item field -> column name")
    required, optional = FAMILIES[family]
    used = required + optional + COMMON_OPTIONAL
    for name, column in columns.items():
        if name not in FIELDS:
            fail(f"columns.{name}", "unknown item field",
                 f"some of: {', '.join(f for f in FIELDS if f in used)}")
        if name not in used:
            fail(f"columns.{name}", f"family '{family}' does not use field '{name}'",
                 f"only some of: {', '.join(f for f in FIELDS if f in used)}")
        if column is None and name in required:
            fail(f"columns.{name}", f"null, but family '{family}' needs field '{name}'",
                 "a column name")
        if column is not None and (not isinstance(column, str) or not column.strip()):
            fail(f"columns.{name}", f"is {value_kind(column)}", "a column name or null")
    labels = spec.get("labels")
    if labels is not None:
        if family not in LABEL_FAMILIES:
            fail("labels", f"family '{family}' has no fixed label set",
                 f"no labels (only {', '.join(sorted(LABEL_FAMILIES))} take them)")
        if not isinstance(labels, list | tuple):
            fail("labels", f"is {value_kind(labels)}", "a list of at least 2 labels")
        declared: list[str] = []
        for value in labels:
            if isinstance(value, bool):
                fail("labels", f"holds a boolean ({value}): YAML reads yes/no/true/false "
                     "unquoted as booleans", "labels as text: quote them, e.g. 'yes'")
            try:
                label = canonical(value)
            except Missing as missing:
                fail("labels", f"holds {missing.shown}, which marks a missing value",
                     "labels that are text or numbers (not N/A, NaN, None, null, empty)")
            if label is None:
                fail("labels", f"holds {value_kind(value)}", "labels that are text or numbers")
            if label in declared:
                same = "" if label == str(value).strip() else f" ('{value}' is '{label}')"
                fail("labels", f"'{label}' is declared twice{same}", "each label once")
            declared.append(label)
        if len(declared) < 2:
            fail("labels", f"declares {len(declared)} label(s)", "at least 2 classes")
        labels = tuple(declared)
    separator = spec.get("list_separator", "|")
    if not isinstance(separator, str) or not separator:
        fail("list_separator", f"is {value_kind(separator)}", "a non-empty string such as '|'")
    return {**spec, "columns": dict(columns), "labels": labels, "list_separator": separator}
