"""Config checking with messages that name the key and say what is allowed.

Snakemake's ``validate`` fills in the schema's defaults but reports only one error, in
jsonschema's words. ``check_config`` runs first and lists every problem as
``<key path>: <what is wrong>; allowed: <what is allowed>``.
"""

from __future__ import annotations

import inspect
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


# Which pair strategies suit which task kind (the kinds are in sftdpo.tasks.base).
STRATEGY_KINDS = {
    "hardest_wrong_label": {"label", "choice"},
    "sft_wrong_answers": {"label", "choice", "summary"},
    "degraded_summary": {"summary"},
    "user_pairs": {"label", "choice", "summary"},
}


def task_problems(tasks: dict) -> list[str]:
    """What the schema cannot say about ``tasks``: built-in names, and pair strategies that
    do not suit the task's kind."""
    from .tasks import BUILTIN_TASKS, FAMILIES

    problems = []
    for name, spec in tasks.items():
        if "data" in spec:
            kind = FAMILIES[spec["family"]][0].kind
            problems += [f"tasks.{name}.{key}: only built-in tasks take {key}; a task with "
                         "data: reads its items from the data"
                         for key in ("builtin", "n_items", "generator") if key in spec]
        elif spec.get("builtin", name) in BUILTIN_TASKS:
            task = BUILTIN_TASKS[spec.get("builtin", name)]
            kind = task.kind
            # The generator's keyword arguments after (n_items, seed) are its settings.
            settings = list(inspect.signature(task.build_items).parameters)[2:]
            problems += [f"tasks.{name}.generator.{key}: not a setting of this task's "
                         f"generator; allowed: {', '.join(settings)}"
                         for key in spec.get("generator", {}) if key not in settings]
        else:
            problems.append(
                f"tasks.{name}: not a built-in task and no data: given; built-in tasks: "
                f"{', '.join(BUILTIN_TASKS)} (or give data: and family: for your own data)")
            continue
        strategy = (spec.get("pairs") or {}).get("strategy")
        if strategy and kind not in STRATEGY_KINDS[strategy]:
            problems.append(f"tasks.{name}.pairs.strategy: {strategy} does not suit a {kind} "
                            f"task; allowed: " + ", ".join(
                                s for s, kinds in STRATEGY_KINDS.items() if kind in kinds))
    return problems


def judge_problems(config: dict) -> list[str]:
    judge = config.get("judge") or {}
    if judge and judge["model"] not in config["models"]:
        return [f"judge.model: {judge['model']!r} is not a model of this config; allowed: "
                + ", ".join(config["models"])]
    return []


def check_config(config: dict, schema_path: str | Path, source: str = "config") -> None:
    """Raise ConfigError listing every way ``config`` breaks the schema."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    lines = [f"  {_key_path(e)}: {_describe(e, schema)}" for e in errors]
    if not errors:
        problems = task_problems(config["tasks"]) + judge_problems(config)
        lines = [f"  {problem}" for problem in problems]
    if lines:
        raise ConfigError(f"{source} is not a valid experiment config:\n" + "\n".join(lines))
