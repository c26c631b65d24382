"""The ``tasks.<name>.data`` section of the config, checked before any file is read where the
config schema cannot check it: its column mapping for the task's family, a declared label
set and the labels' names (read by the label rule of :mod:`sftdpo.labels`), and what to do
with a text whose copies disagree (``conflicting_repeats``, applied by :mod:`sftdpo.data`)."""

from __future__ import annotations

from pathlib import Path

from .labels import Missing, canonical, code_names, spelling_key, unnamed
from .tasks import FAMILIES as TASK_FAMILIES
from .userfiles import DataError, short

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
    fields under columns, a list of at least 2 distinct labels (text or numbers), label names
    that are text and conflicting_repeats' values. What it cannot check stays here: keys that
    depend on path or hub_id, the fields and labels a family takes (the family is a sibling of
    data:), blank column names, labels (and codes of label_names) that mark a missing value or
    that the label rule reads as one label, names that are one name to the parser, and
    label_names whose codes are not the declared labels (inferred labels are compared in
    :mod:`sftdpo.userdata`). Fills in list_separator ("|") and conflicting_repeats
    ("refuse")."""
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
    names = spec.get("label_names")
    if names is not None:
        if family not in LABEL_FAMILIES:
            fail("label_names", f"family '{family}' has no fixed label set",
                 f"no label_names (only {', '.join(sorted(LABEL_FAMILIES))} take them)")
        _check_names(names, fail)
        if labels is not None:
            problem = label_names_problem(labels, names, f"{key}.labels")
            if problem:
                fail("label_names", *problem)
    return {**spec, "columns": dict(columns), "labels": labels,
            "list_separator": spec.get("list_separator", "|"),
            "conflicting_repeats": spec.get("conflicting_repeats", "refuse")}


def _check_names(names: dict, fail) -> None:
    """Codes that are missing markers or one code twice (rule 3), blank names, and names that
    differ only by case, spacing or punctuation (rule 7 of :mod:`sftdpo.labels`)."""
    codes: dict[str, object] = {}
    for code in names:
        try:
            label = canonical(code)
        except Missing as missing:
            fail("label_names", f"the code {missing.shown} marks a missing value",
                 "codes that are labels (text or numbers)")
        if label in codes:
            fail("label_names", f"the label '{label}' is named twice ({codes[label]!r} and "
                 f"{code!r})", "one name per label")
        codes[label] = code
    named: dict[str, list[str]] = {}
    for code, name in code_names(names).items():
        if not name:
            fail("label_names", f"the label '{code}' has a blank name", "a name for each label")
        named.setdefault(spelling_key(name), []).append(code)
    for codes_named in named.values():
        if len(codes_named) > 1:
            name = code_names(names)[codes_named[0]]
            fail("label_names", f"{short(name)} names two labels "
                 f"({', '.join(repr(c) for c in codes_named)}), as names are compared "
                 f"without case, spacing or punctuation", "a name of its own for each label")


def label_names_problem(labels, names: dict, labels_key: str) -> tuple[str, str] | None:
    """(problem, expected) when the codes of ``names`` are not the label set ``labels``
    (``labels_key`` says where that set comes from), naming the labels without a name and
    the codes that are no label; else None."""
    missing, extra = unnamed(labels, names)
    if not missing and not extra:
        return None
    parts = [f"no name for label {short(label)}" for label in missing]
    parts += [f"{short(code)} is not a label" for code in extra]
    return ("; ".join(parts), f"a name for each label and no other codes (the labels, "
            f"{labels_key}: {', '.join(labels)})")
