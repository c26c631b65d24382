"""Config checking with messages that name the key and say what is allowed.

Snakemake's ``validate`` fills in the schema's defaults but reports only one error, in
jsonschema's words. ``check_config`` runs first and lists every problem as
``<key path>: <what is wrong>; allowed: <what is allowed>``: the schema's (where a whole
number must be written as one: ``50.0`` is not an integer here, as it is to JSON Schema),
then what the schema cannot say (:func:`task_problems`, :func:`split_problems`,
:func:`dpo_problems`, :func:`judge_problems`), and the training sections' keys that are TRL's
and PEFT's, checked by TRL and PEFT (:func:`trainer_problems`). :func:`check_yaml_keys` refuses
a config file that gives a key twice, which YAML loaders otherwise settle by keeping the last.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import re
import warnings
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


def _yaml_number_hint(text: str) -> str | None:
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
            and "number" in error.validator_value and (hint := _yaml_number_hint(error.instance))):
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


# The training sections whose other keys are fields of TRL's and PEFT's configs, and where their
# references list those fields.
FIELD_REFERENCES = {
    "sft": ("TRL's SFTConfig", "https://huggingface.co/docs/trl/sft_trainer#trl.SFTConfig"),
    "dpo": ("TRL's DPOConfig", "https://huggingface.co/docs/trl/dpo_trainer#trl.DPOConfig"),
    "lora": ("PEFT's LoraConfig",
             "https://huggingface.co/docs/peft/package_reference/lora#peft.LoraConfig"),
}
# Schedulers a stage may name without TRL being asked (the ones the schema once listed): any
# other name is checked by TRL while planning.
KNOWN_SCHEDULERS = ("linear", "cosine", "constant")
# Fields whose check depends on the machine (tf32 needs an Ampere GPU): checked where the job
# runs, not by the planning machine.
CHECKED_ON_DEVICE = ("tf32",)
# The trackers this project's trackers extra installs, and the packages of the others a check
# can name.
TRACKER_PACKAGES = {"mlflow": "mlflow-skinny (pip install -e '.[trackers]')",
                    "tensorboard": "tensorboard (pip install -e '.[trackers]')",
                    "wandb": "wandb (pip install wandb)"}


def _workflow_keys(schema: dict) -> dict[str, list[str]]:
    """The keys of the sft, dpo and lora sections the schema declares: the workflow's own."""
    stage = list(schema["$defs"]["training_stage"]["properties"])
    properties = schema["properties"]
    return {"sft": stage + list(properties["sft"].get("properties", {})),
            "dpo": stage + list(properties["dpo"].get("properties", {})),
            "lora": list(properties["lora"]["properties"])}


def _simple_type_problem(value, annotation: str) -> str | None:
    """Why ``value`` is not of a field's type, where the type is plain (float, int, bool, str,
    or one of them or None); None otherwise (TRL checks the rest when it builds its config)."""
    kinds = {"float": (int, float), "int": (int,), "bool": (bool,), "str": (str,),
             "None": (type(None),)}
    parts = [part.strip() for part in annotation.split("|")]
    if not all(part in kinds for part in parts):
        return None
    if any(isinstance(value, kinds[part]) and not (isinstance(value, bool) and part != "bool")
           for part in parts):
        return None
    wanted = " or ".join("null" if part == "None" else part for part in parts)
    hint = _yaml_number_hint(value) if isinstance(value, str) else None
    return f"{value!r} is not of type {wanted}" + (f"; {hint}" if hint else "")


def _annotation(kind) -> str:
    """A dataclass field's type as text (``float``, ``int | None``)."""
    return kind.__name__ if isinstance(kind, type) else str(kind)


def _tracker_problems(section: str, report_to) -> list[str]:
    """``report_to``'s trackers: known to transformers, installed here, and, for MLflow, told
    where to write (transformers reads MLFLOW_TRACKING_URI; MLflow's own default store needs
    packages its client leaves out)."""
    from transformers.integrations import (
        get_available_reporting_integrations,
        get_reporting_integration_callbacks,
    )

    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    if "all" in names:
        return [f"{section}.report_to: all would report to every tracker installed, some of "
                f"which send to the network; allowed: the trackers by name (mlflow, "
                f"tensorboard, wandb, ...)"]
    names = [name for name in names if name != "none"]
    try:
        get_reporting_integration_callbacks(names)
    except ValueError as error:
        return [f"{section}.report_to: {error}"]
    installed = get_available_reporting_integrations()
    problems = [f"{section}.report_to: {name} is not installed here; allowed: install "
                f"{TRACKER_PACKAGES[name]}"
                for name in names if name in TRACKER_PACKAGES and name not in installed]
    if "mlflow" in names and "mlflow" in installed and not os.environ.get("MLFLOW_TRACKING_URI"):
        problems.append(
            f"{section}.report_to: mlflow needs MLFLOW_TRACKING_URI in the environment, where "
            "the runs go; allowed: a local store (file:<folder> with MLFLOW_ALLOW_FILE_STORE="
            "true, or sqlite:///<file>.db with sqlalchemy and alembic installed) or a tracking "
            "server's URL (config/README.md, trackers)")
    return problems


def _filled(section: dict, properties: dict) -> dict:
    """``section`` with the schema's defaults of the keys it leaves out."""
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec
            } | section


def trainer_problems(config: dict, schema: dict, construct: bool = True) -> list[str]:
    """The keys of the sft, dpo and lora sections that are not the workflow's (the schema's)
    are fields of TRL's SFTConfig, DPOConfig and PEFT's LoraConfig (sftdpo.training passes
    them on): a key that is none of theirs is named with the nearest fields, one the workflow
    sets itself with what decides it (sftdpo.training.ALIASES, OWNED), a plain value of the
    wrong type with its type, report_to's trackers by :func:`_tracker_problems`. With
    ``construct`` (the schema found nothing wrong) each section's config is then built as its
    job builds it, so TRL and PEFT check the values too (a scheduler's name, an optimiser's,
    DoRA with its settings...). A config that sets none of these keys (nor an lr_scheduler
    outside :data:`KNOWN_SCHEDULERS`) imports neither library: planning stays as quick as
    before."""
    sections = {name: config.get(name) for name in FIELD_REFERENCES}
    sections = {name: section for name, section in sections.items()
                if isinstance(section, dict)}
    own = _workflow_keys(schema)
    extra = {name: [key for key in section if key not in own[name]]
             for name, section in sections.items()}
    if not any(extra.values()) and all(section.get("lr_scheduler", "linear") in KNOWN_SCHEDULERS
                                       for section in sections.values()):
        return []
    from peft import LoraConfig
    from trl import DPOConfig, SFTConfig

    from . import training

    classes = {"sft": SFTConfig, "dpo": DPOConfig, "lora": LoraConfig}
    problems = []
    for name, keys in extra.items():
        fields = {field.name: field for field in dataclasses.fields(classes[name])
                  if field.init}
        what, reference = FIELD_REFERENCES[name]
        for key in keys:
            path = f"{name}.{key}"
            if key in training.ALIASES[name]:
                alias = training.ALIASES[name][key]
                problems.append(f"{path}: the workflow sets {what}'s {key} from "
                                f"{name}.{alias}; allowed: {alias}")
            elif key in training.OWNED[name]:
                problems.append(f"{path}: set by the workflow: {training.OWNED[name][key]}; "
                                f"allowed: leave it out")
            elif key not in fields:
                # What a section may set: the workflow's keys and the fields it leaves open.
                settable = list(dict.fromkeys(
                    [*own[name], *(field for field in fields if field not in
                                   training.ALIASES[name] and field not in training.OWNED[name])]))
                nearest = difflib.get_close_matches(key, settable, n=5, cutoff=0.6)
                problems.append(
                    f"{path}: not a key of the workflow's nor a field of {what}; allowed: "
                    + (f"the nearest {', '.join(nearest)}, or another key of the workflow's "
                       f"or field of {what} ({reference})" if nearest else
                       f"{', '.join(settable)} (the fields: {reference})"))
            elif problem := _simple_type_problem(sections[name][key],
                                                 _annotation(fields[key].type)):
                problems.append(f"{path}: {problem}")
        if name != "lora" and "report_to" in sections[name]:
            problems += _tracker_problems(name, sections[name]["report_to"])
    if problems or not construct:
        return problems
    return _construction_problems(config, schema, sections)


def _construction_problems(config: dict, schema: dict, sections: dict) -> list[str]:
    """Each section's TRL or PEFT config built as its job builds it (on the CPU; a tuned
    stage's first candidate), and what TRL or PEFT says against it."""
    from . import training
    from .selection import candidates, scalar_settings

    properties = schema["properties"]
    stage_properties = schema["$defs"]["training_stage"]["properties"]
    context_length = config.get("context_length", properties["context_length"]["default"])
    problems = []
    for name, section in sections.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecations are TRL's and PEFT's to tell
                if name == "lora":
                    settings = _filled(section, properties["lora"]["properties"])
                    training.lora_config(settings,
                                         num_layers=max(1, settings.get("top_layers") or 1))
                    continue
                stage = scalar_settings(_filled(section, stage_properties
                                                | properties[name].get("properties", {})))
                grid = candidates(name, stage)
                stage = {key: value for key, value in stage.items()
                         if key not in CHECKED_ON_DEVICE} | (grid[0][1] if grid else {})
                stage["max_length"] = context_length
                out_dir = Path("results", "check")  # never written: only named
                if name == "sft":
                    training.sft_config(training.sft_arguments(stage, 0, "cpu", out_dir))
                else:
                    training.dpo_config(training.dpo_arguments(stage, 0, "cpu", out_dir))
        except (ValueError, TypeError, KeyError) as error:
            given = ", ".join(section) or "its defaults"
            problems.append(f"{name}: {FIELD_REFERENCES[name][0]} refuses these settings "
                            f"({given}): {error}")
    return problems


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
    mode = (config.get("evaluation") or {}).get("mode", "generate")
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
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _Validator(schema)
    errors = sorted(map(_branch_error, validator.iter_errors(config)),
                    key=lambda e: list(map(str, e.absolute_path)))
    lines = [f"  {_key_path(e)}: {_describe(e, schema)}" for e in errors]
    # The training sections' TRL and PEFT fields: named beside the schema's errors, their
    # values checked by TRL and PEFT once the schema's are right.
    lines += [f"  {problem}" for problem in trainer_problems(config, schema,
                                                            construct=not errors)]
    if not lines:
        task_keys = tuple(schema["$defs"]["task"]["properties"])
        problems = (task_problems(config["tasks"], task_keys) + split_problems(config)
                    + dpo_problems(config) + judge_problems(config))
        if not problems:  # the metrics need every task to be a known one
            problems = decision_problems(config)
        lines = [f"  {problem}" for problem in problems]
    if lines:
        raise ConfigError(f"{source} is not a valid experiment config:\n" + "\n".join(lines))


def task_model_spec(model_spec: dict, task_spec: dict | None) -> dict:
    """The model entry a task's jobs load the model by: the task's ``attention`` in place of
    the model's where the task sets one (a speed choice: its answers do not depend on it)."""
    attention = (task_spec or {}).get("attention")
    return model_spec if attention is None else model_spec | {"attention": attention}
