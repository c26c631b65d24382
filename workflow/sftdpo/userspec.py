"""The ``tasks.<name>.data`` section of the config, checked before any file is read where the
config schema cannot check it: its column mapping for the task's family, and a declared label
set (read by the label rule of :mod:`sftdpo.labels`)."""

from __future__ import annotations

from pathlib import Path

from .labels import Missing, canonical
from .tasks import FAMILIES as TASK_FAMILIES
from .userfiles import DataError

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


def source_name(spec) -> str:
    if isinstance(spec, dict):
        for name in ("path", "hub_id"):
            if isinstance(spec.get(name), str | Path):
                return str(spec[name])
    return "data"


def checked_spec(spec: dict, family: str, key: str, source: str) -> dict:
    """``spec`` with its defaults, refused where it breaks what the config schema cannot say.

    The schema (workflow/schemas/config.schema.yaml, checked before any job) has already
    enforced the keys, their types, exactly one of path and hub_id, the formats, the item
    fields under columns and a list of at least 2 distinct text labels. What it cannot check
    stays here: keys that depend on path or hub_id, the fields and labels a family takes (the
    family is a sibling of data:), blank column names, and labels that mark a missing value
    or that the label rule reads as one label."""
    def fail(name: str, problem: str, expected: str):
        raise DataError(f"{source}: {key}.{name}: {problem}; expected {expected}",
                        source=source, field=f"{key}.{name}")

    has_hub = spec.get("hub_id") is not None
    for name in ("config", "revision"):
        if spec.get(name) is not None and not has_hub:
            fail(name, "given with path", "it only with hub_id")
    if spec.get("format") is not None and has_hub:
        fail("format", "given with hub_id", "it only with path")
    columns = spec.get("columns") or {}
    required, optional = FAMILIES[family]
    used = required + optional + COMMON_OPTIONAL
    for name, column in columns.items():
        if name not in used:
            fail(f"columns.{name}", f"family '{family}' does not use field '{name}'",
                 f"only some of: {', '.join(f for f in FIELDS if f in used)}")
        if column is None and name in required:
            fail(f"columns.{name}", f"null, but family '{family}' needs field '{name}'",
                 "a column name")
        if column is not None and not column.strip():
            fail(f"columns.{name}", "is blank", "a column name or null")
    labels = spec.get("labels")
    if labels is not None:
        if family not in LABEL_FAMILIES:
            fail("labels", f"family '{family}' has no fixed label set",
                 f"no labels (only {', '.join(sorted(LABEL_FAMILIES))} take them)")
        declared: list[str] = []
        for value in labels:
            try:
                label = canonical(value)
            except Missing as missing:
                fail("labels", f"holds {missing.shown}, which marks a missing value",
                     "labels that are text or numbers (not N/A, NaN, None, null, empty)")
            if label in declared:
                same = "" if label == str(value).strip() else f" ('{value}' is '{label}')"
                fail("labels", f"'{label}' is declared twice{same}", "each label once")
            declared.append(label)
        labels = tuple(declared)
    return {**spec, "columns": dict(columns), "labels": labels,
            "list_separator": spec.get("list_separator", "|")}
