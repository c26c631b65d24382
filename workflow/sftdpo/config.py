"""Config checking with messages that name the key and say what is allowed.

Snakemake's ``validate`` fills in the schema's defaults but reports only one error, in
jsonschema's words. ``check_config`` runs first and lists every problem as ``<key path>: <what
is wrong>; allowed: <what is allowed>``: the schema's (where a whole number must be written as
one: ``50.0`` is not an integer here, as it is to JSON Schema), then what the schema cannot
say (:func:`task_problems`, :func:`split_problems`, :func:`dpo_problems`,
:func:`judge_problems`), and the training sections' keys that are TRL's and PEFT's, checked by
TRL and PEFT (:func:`sftdpo.passthrough.trainer_problems`), and a model entry's bitsandbytes
section, checked by transformers (:func:`sftdpo.passthrough.quantization_problems`).
:func:`check_yaml_keys` refuses a config file that gives a key twice, which YAML loaders
otherwise settle by keeping the last.
"""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    pass


def _is_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema counts 50.0 as an integer; Python's range(), seeds and counts do not.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping holding one key twice (a key written beside a
    ``<<:`` merge overrides the merged one, as YAML means it to)."""

    def construct_mapping(self, node, deep=False):
        first_line: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in first_line:
                raise ConfigError(
                    f"{key_node.start_mark.name}, lines {first_line[key]} and {line}: key "
                    f"{key!r} is given twice in one mapping (YAML would silently keep the "
                    f"second); expected each key once: merge or rename the two entries")
            first_line.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


def check_yaml_keys(path: str | Path) -> None:
    """Raise ConfigError, naming both lines, when the YAML file ``path`` gives a key twice."""
    with open(path, encoding="utf-8") as handle:
        try:
            yaml.load(handle, Loader=_StrictLoader)
        except ConfigError as error:  # raised here, so a traceback stops at this line
            raise error.with_traceback(None) from None


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _allowed(schema: dict) -> str:
    if "enum" in schema:
        return ", ".join(map(str, schema["enum"]))
    if "properties" in schema:
        return ", ".join(schema["properties"])
    parts = [f"{k} {v}" for k, v in schema.items() if k in {"type", "minimum", "maximum",
                                                           "exclusiveMinimum", "pattern",
                                                           "minItems", "uniqueItems"}]
    return ", ".join(parts) or "see config/README.md"


def _branch_error(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """A tunable setting's error (a number or a list of numbers) as the branch of its value's
    kind says it: "0 is less than or equal to the minimum of 0", not "not valid under any"."""
    if error.validator != "anyOf" or not error.context:
        return error
    branch = 1 if isinstance(error.instance, list) else 0
    return next((e for e in error.context if e.schema_path and e.schema_path[0] == branch),
                error)


# A number in exponent form, as YAML 1.1 (PyYAML, Snakemake's loader) reads it as text: without
# a decimal point (1e-3) or without a sign in its exponent (1.0e3).
_EXPONENT_TEXT = re.compile(r"([-+]?[0-9]+)(?:\.([0-9]*))?[eE]([-+]?)([0-9]+)")


def yaml_number_hint(text: str) -> str | None:
    """How to write ``text`` (a number YAML read as text: 1e-3) as a number, or None."""
    match = _EXPONENT_TEXT.fullmatch(text.strip())
    if not match:
        return None
    whole, fraction, sign, exponent = match.groups()
    missing = [what for what, absent in (("a decimal point", fraction is None),
                                         ("a sign in its exponent", not sign)) if absent]
    return (f"write {whole}.{fraction or 0}e{sign or '+'}{exponent}: YAML reads {text} "
            f"without {' and '.join(missing)} as text")


def _describe(error: jsonschema.ValidationError, schema: dict) -> str:
    if error.validator in {"additionalProperties", "unevaluatedProperties"}:
        resolved = error.schema
        known = dict(resolved.get("properties", {}))
        if "$ref" in resolved:  # a section that adds keys to a shared definition (sft, dpo)
            known = schema["$defs"][resolved["$ref"].rsplit("/", 1)[-1]].get("properties",
                                                                             {}) | known
        known = ", ".join(known) or "none"
        return f"{error.message}; allowed keys: {known}"
    if error.validator == "required":
        return error.message
    if error.validator == "propertyNames":
        return f"{error.message}; allowed names: {_allowed(error.validator_value)}"
    if (error.validator == "type" and isinstance(error.instance, bool)
            and "string" in error.validator_value):
        return (f"{error.message}: YAML reads yes/no/true/false unquoted as booleans; "
                f"allowed: text, quoted ('{str(error.instance).lower()}')")
    if (error.validator == "type" and isinstance(error.instance, str)
            and "number" in error.validator_value and (hint := yaml_number_hint(error.instance))):
        return f"{error.message}; {hint}; allowed: {_allowed(error.schema)}"
    if (error.validator == "type" and isinstance(error.instance, float)
            and error.instance.is_integer() and "integer" in error.validator_value):
        return (f"{error.instance} is written as a decimal number; allowed: a whole number "
                f"without a decimal point ({int(error.instance)}), "
                + _allowed(error.schema))
    return f"{error.message}; allowed: {_allowed(error.schema)}"


# Which pair strategies suit which task kind (the kinds are in sftdpo.tasks.base).
STRATEGY_KINDS = {
    "hardest_wrong_label": {"label", "choice"},
    "sft_wrong_answers": {"label", "choice", "summary"},
    "degraded_summary": {"summary"},
    "user_pairs": {"label", "choice", "summary"},
}


# The keys of a task entry (the schema's $defs.task) that one kind of task reads and the other
# would ignore: a built-in task generates its items and has its own family and description; a
# task over the user's data (data:) reads its items. Every other key is read by both kinds.
BUILTIN_ONLY_KEYS = ("builtin", "n_items", "generator")
USER_DATA_ONLY_KEYS = ("data", "family", "description")


def task_problems(tasks: dict, task_keys: tuple[str, ...] = ()) -> list[str]:
    """What the schema cannot say about ``tasks``: built-in names (the registry's, the one
    list of them), keys the task's kind does not read (``task_keys``: every key of a task
    entry, to list those a built-in task takes), and pair strategies that do not suit the
    task's kind."""
    from .tasks import BUILTIN_TASKS, FAMILIES

    builtin_keys = [key for key in task_keys if key not in USER_DATA_ONLY_KEYS]
    problems = []
    for name, spec in tasks.items():
        if "data" in spec:
            kind = FAMILIES[spec["family"]][0].kind
            problems += [f"tasks.{name}.{key}: only built-in tasks take {key}; a task with "
                         "data: reads its items from the data"
                         for key in BUILTIN_ONLY_KEYS if key in spec]
        elif spec.get("builtin", name) in BUILTIN_TASKS:
            task = BUILTIN_TASKS[spec.get("builtin", name)]
            kind = task.kind
            problems += [f"tasks.{name}.{key}: only a task with data: takes {key}; built-in "
                         f"task {spec.get('builtin', name)!r} has its own {key} (it would be "
                         f"ignored); allowed: " + (", ".join(builtin_keys) or "the other keys")
                         for key in USER_DATA_ONLY_KEYS if key in spec]
            # The generator's keyword arguments after (n_items, seed) are its settings.
            settings = list(inspect.signature(task.build_items).parameters)[2:]
            problems += [f"tasks.{name}.generator.{key}: not a setting of this task's "
                         f"generator; allowed: {', '.join(settings)}"
                         for key in spec.get("generator", {}) if key not in settings]
        elif "builtin" in spec:
            problems.append(f"tasks.{name}.builtin: {spec['builtin']!r} is not a built-in "
                            f"task; allowed: {', '.join(BUILTIN_TASKS)}")
            continue
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


def split_problems(config: dict) -> list[str]:
    """Shares that leave no training items, and built-in tasks whose ``n_items`` leave a
    split without one item per class."""
    from .data import split_size_problem
    from .tasks import BUILTIN_TASKS
    from .tasks.base import LabelTask

    split = {"validation": 0.1, "test": 0.4} | (config.get("split") or {})
    validation, test = split["validation"], split["test"]
    if validation + test >= 1:
        return [f"split: validation {validation} + test {test} = {validation + test:g} leaves "
                f"no items to train on; allowed: validation + test below 1"]
    problems = []
    for name, spec in config["tasks"].items():
        task = BUILTIN_TASKS.get(spec.get("builtin", name))
        if "data" in spec or task is None:
            continue
        n_classes = len(task.labels) if isinstance(task, LabelTask) else 1
        problem = split_size_problem(spec.get("n_items", 400), n_classes, validation, test)
        if problem:
            problems.append(f"tasks.{name}.n_items: {problem.replace('; expected', '; allowed:')}"
                            f" (or larger split shares)")
    return problems


def dpo_problems(config: dict) -> list[str]:
    dpo = config.get("dpo") or {}
    weights, terms = dpo.get("loss_weights"), dpo.get("loss_type", ["sigmoid"])
    if weights is not None and len(weights) != len(terms):
        return [f"dpo.loss_weights: {len(weights)} weight(s) for {len(terms)} loss_type "
                f"term(s) ({', '.join(terms)}); allowed: one weight per loss_type term, in "
                f"its order, or null (each weighs 1)"]
    return []



# The name a judge given as a model of its own (judge.model: {source: ...}) is materialised
# under (resources/models/judge).
JUDGE_MODEL_NAME = "judge"


def judge_problems(config: dict) -> list[str]:
    judge = config.get("judge") or {}
    if judge and isinstance(judge["model"], dict) and JUDGE_MODEL_NAME in config["models"]:
        return [f"judge.model: a model of its own is materialised as {JUDGE_MODEL_NAME!r}, "
                f"which is also a name under models:; allowed: rename that model, or give "
                f"judge.model: {JUDGE_MODEL_NAME}"]
    if judge and isinstance(judge["model"], str) and judge["model"] not in config["models"]:
        return [f"judge.model: {judge['model']!r} is not a model of this config; allowed: "
                + ", ".join(config["models"])]
    return []


def task_metrics(name: str, spec: dict, config: dict) -> tuple[str, ...]:
    """The metrics a task reports, as the evaluation mode names them, the judge's grade too
    where a judge grades its summaries: the metrics it can be decided on."""
    from .metrics import evaluated
    from .tasks import task_class

    task = task_class(name, spec)
    mode = config["evaluation"]["mode"]
    judged = config.get("judge") is not None and task.kind == "summary"
    return evaluated(task.metrics, task.kind, mode) + (("judge_likert",) if judged else ())


def primary_metric(name: str, spec: dict, config: dict) -> str:
    """The metric a task's verdict reads: its ``primary_metric``, else its headline (the first
    it reports)."""
    return spec.get("primary_metric") or task_metrics(name, spec, config)[0]


def decision_problems(config: dict) -> list[str]:
    """Primary metrics a task does not report, and margins of metrics that do not exist."""
    from .decision import default_margins
    from .metrics import LIKELIHOOD_PREFIX

    problems = []
    for name, spec in config["tasks"].items():
        metric = spec.get("primary_metric")
        allowed = task_metrics(name, spec, config)
        if metric is not None and metric not in allowed:
            problems.append(f"tasks.{name}.primary_metric: {metric!r} is not a metric this task "
                            f"reports; allowed: {', '.join(allowed)}")
        chosen = primary_metric(name, spec, config)
        margins = (config.get("decision") or {}).get("margins") or {}
        if (spec.get("margin") is None and chosen not in margins
                and chosen.removeprefix(LIKELIHOOD_PREFIX) not in margins
                and chosen.removeprefix(LIKELIHOOD_PREFIX) not in default_margins()):
            problems.append(f"tasks.{name}: no default margin for {chosen}; allowed: a "
                            f"tasks.{name}.margin")
    known = set(default_margins())
    for metric in (config.get("decision") or {}).get("margins") or {}:
        if metric.removeprefix(LIKELIHOOD_PREFIX) not in known:
            problems.append(f"decision.margins.{metric}: not a metric a task is decided on; "
                            f"allowed: {', '.join(sorted(known))} (or likelihood_ of one)")
    return problems


def check_config(config: dict, schema_path: str | Path, source: str = "config") -> None:
    """Raise ConfigError listing every way ``config`` breaks the schema."""
    from .launch import launch_problems
    from .passthrough import quantization_problems, trainer_problems  # they import this module

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _Validator(schema)
    errors = sorted(map(_branch_error, validator.iter_errors(config)),
                    key=lambda e: list(map(str, e.absolute_path)))
    lines = [f"  {_key_path(e)}: {_describe(e, schema)}" for e in errors]
    # The training sections' TRL and PEFT fields: named beside the schema's errors, their
    # values checked by TRL and PEFT once the schema's are right.
    lines += [f"  {problem}" for problem in trainer_problems(config, schema,
                                                            construct=not errors)]
    # A model's bitsandbytes section, checked by transformers' BitsAndBytesConfig likewise.
    lines += [f"  {problem}" for problem in quantization_problems(config, schema,
                                                                 construct=not errors)]
    if not lines:
        # What the schema cannot say: the keys a task was given, then the rest read with the
        # defaults filled in as the workflow will (a config that leaves evaluation out is
        # evaluated by the default mode).
        full = with_defaults(config, schema_path)
        task_keys = tuple(schema["$defs"]["task"]["properties"])
        problems = (task_problems(config["tasks"], task_keys) + split_problems(full)
                    + dpo_problems(full) + judge_problems(full) + launch_problems(full))
        if not problems:  # the metrics need every task to be a known one
            problems = decision_problems(full)
        lines = [f"  {problem}" for problem in problems]
    if lines:
        raise ConfigError(f"{source} is not a valid experiment config:\n" + "\n".join(lines))


def with_defaults(config: dict, schema_path: str | Path) -> dict:
    """A copy of ``config`` with the schema's defaults filled in, by Snakemake's ``validate``
    (as the workflow's common.smk fills them)."""
    from snakemake.utils import validate

    full = copy.deepcopy(config)
    validate(full, str(Path(schema_path).absolute()))
    return full


def task_model_spec(model_spec: dict, task_spec: dict | None) -> dict:
    """The model entry a task's jobs load the model by: the task's ``attention`` in place of
    the model's where the task sets one (a speed choice: its answers do not depend on it)."""
    attention = (task_spec or {}).get("attention")
    return model_spec if attention is None else model_spec | {"attention": attention}
