"""Config checking with messages that name the key and say what is allowed.

Snakemake's ``validate`` fills in the schema's defaults but reports only one error, in
jsonschema's words. ``check_config`` runs first and lists every problem as
``<key path>: <what is wrong>; allowed: <what is allowed>``.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    pass


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _allowed(schema: dict) -> str:
    if "enum" in schema:
        return ", ".join(map(str, schema["enum"]))
    if "properties" in schema:
        return ", ".join(schema["properties"])
    parts = [f"{k} {v}" for k, v in schema.items() if k in {"type", "minimum", "maximum",
                                                           "exclusiveMinimum", "pattern"}]
    return ", ".join(parts) or "see config/README.md"


def _describe(error: jsonschema.ValidationError, schema: dict) -> str:
    if error.validator in {"additionalProperties", "unevaluatedProperties"}:
        resolved = error.schema
        if "$ref" in resolved:
            resolved = schema["$defs"][resolved["$ref"].rsplit("/", 1)[-1]] | resolved
        known = ", ".join(resolved.get("properties", {})) or "none"
        return f"{error.message}; allowed keys: {known}"
    if error.validator == "required":
        return error.message
    if error.validator == "propertyNames":
        return f"{error.message}; allowed names: {_allowed(error.validator_value)}"
    return f"{error.message}; allowed: {_allowed(error.schema)}"


def check_config(config: dict, schema_path: str | Path, source: str = "config") -> None:
    """Raise ConfigError listing every way ``config`` breaks the schema."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"  {_key_path(e)}: {_describe(e, schema)}" for e in errors]
        raise ConfigError(f"{source} is not a valid experiment config:\n" + "\n".join(lines))
