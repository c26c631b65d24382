"""The config keys that are fields of TRL's, PEFT's and transformers' own configs, passed to
them as they are, checked while planning (:func:`trainer_problems` for the sft, dpo and lora
sections; :func:`quantization_problems` for a model entry's bitsandbytes section): a key that
is none of theirs is named with the nearest fields, one the workflow sets itself with what
decides it, and the configs are then built as the jobs build them, so TRL, PEFT and
transformers check the values too.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import warnings
from pathlib import Path

from .config import yaml_number_hint

# The training sections whose other keys are fields of TRL's and PEFT's configs, and where their
# references list those fields.
FIELD_REFERENCES = {
    "sft": ("TRL's SFTConfig", "https://huggingface.co/docs/trl/sft_trainer#trl.SFTConfig"),
    "dpo": ("TRL's DPOConfig", "https://huggingface.co/docs/trl/dpo_trainer#trl.DPOConfig"),
    "lora": ("PEFT's LoraConfig",
             "https://huggingface.co/docs/peft/package_reference/lora#peft.LoraConfig"),
}
# A model entry's bitsandbytes section: its fields, and where they are listed.
BITSANDBYTES_REFERENCE = (
    "transformers' BitsAndBytesConfig",
    "https://huggingface.co/docs/transformers/main_classes/quantization"
    "#transformers.BitsAndBytesConfig")
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
    # A stage's own defaults for shared keys (sft's learning rate) name them again.
    return {name: list(dict.fromkeys(stage + list(properties[name].get("properties", {}))))
            for name in ("sft", "dpo")} | {"lora": list(properties["lora"]["properties"])}


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
    hint = yaml_number_hint(value) if isinstance(value, str) else None
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
    are fields of TRL's SFTConfig, DPOConfig and PEFT's LoraConfig (sftdpo.trainer_config passes
    them on): a key that is none of theirs is named with the nearest fields, one the workflow
    sets itself with what decides it (sftdpo.trainer_config.ALIASES, OWNED), a plain value of the
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

    from .trainer_config import ALIASES, OWNED

    classes = {"sft": SFTConfig, "dpo": DPOConfig, "lora": LoraConfig}
    problems = []
    for name, keys in extra.items():
        fields = {field.name: field for field in dataclasses.fields(classes[name])
                  if field.init}
        what, reference = FIELD_REFERENCES[name]
        for key in keys:
            path = f"{name}.{key}"
            if key in ALIASES[name]:
                alias = ALIASES[name][key]
                problems.append(f"{path}: the workflow sets {what}'s {key} from "
                                f"{name}.{alias}; allowed: {alias}")
            elif key in OWNED[name]:
                problems.append(f"{path}: set by the workflow: {OWNED[name][key]}; "
                                f"allowed: leave it out")
            elif key not in fields:
                # What a section may set: the workflow's keys and the fields it leaves open.
                settable = list(dict.fromkeys(
                    [*own[name], *(field for field in fields if field not in
                                   ALIASES[name] and field not in OWNED[name])]))
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
    from .selection import candidates, scalar_settings
    from .trainer_config import dpo_arguments, dpo_config, lora_config, sft_arguments, sft_config

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
                    lora_config(settings, num_layers=max(1, settings.get("top_layers") or 1))
                    continue
                stage = scalar_settings(_filled(section, stage_properties
                                                | properties[name].get("properties", {})))
                grid = candidates(name, stage)
                stage = {key: value for key, value in stage.items()
                         if key not in CHECKED_ON_DEVICE} | (grid[0][1] if grid else {})
                stage["max_length"] = context_length
                out_dir = Path("results", "check")  # never written: only named
                if name == "sft":
                    sft_config(sft_arguments(stage, 0, "cpu", out_dir))
                else:
                    dpo_config(dpo_arguments(stage, 0, "cpu", out_dir))
        except (ValueError, TypeError, KeyError) as error:
            given = ", ".join(section) or "its defaults"
            problems.append(f"{name}: {FIELD_REFERENCES[name][0]} refuses these settings "
                            f"({given}): {error}")
    return problems


def _model_entries(config: dict) -> dict[str, dict]:
    """The model entries of ``config`` by key path: ``models.<name>``, and ``judge.model`` where
    the judge is a model of its own."""
    models = config.get("models")
    entries = dict(models.items()) if isinstance(models, dict) else {}
    entries = {f"models.{name}": spec for name, spec in entries.items()}
    judge = config.get("judge")
    if isinstance(judge, dict) and isinstance(judge.get("model"), dict):
        entries["judge.model"] = judge["model"]
    return {path: spec for path, spec in entries.items() if isinstance(spec, dict)}


def quantization_problems(config: dict, schema: dict, construct: bool = True) -> list[str]:
    """The ``bitsandbytes`` section of each model entry (and of a judge's own model): fields of
    transformers' BitsAndBytesConfig, which :func:`sftdpo.modeling.quantization_config` passes
    on with ``quantization: nf4``. A key that is none of its fields is named with the nearest;
    one the entry's own keys set (sftdpo.modeling.BITSANDBYTES_ALIASES) or that 4-bit loading
    ignores (BITSANDBYTES_OWNED) with what decides it; the section beside ``quantization:
    none``, where it would change nothing, is refused. With ``construct`` (the schema found
    nothing wrong) the config is then built as the jobs build it, so transformers checks the
    values too. A config without such a section imports neither transformers nor torch."""
    entries = {path: spec for path, spec in _model_entries(config).items()
               if isinstance(spec.get("bitsandbytes"), dict)}
    if not entries:
        return []
    import inspect

    from transformers import BitsAndBytesConfig

    from .modeling import BITSANDBYTES_ALIASES, BITSANDBYTES_OWNED, quantization_config

    what, reference = BITSANDBYTES_REFERENCE
    fields = [name for name, parameter in inspect.signature(BitsAndBytesConfig).parameters.items()
              if parameter.kind is parameter.POSITIONAL_OR_KEYWORD]
    settable = [field for field in fields
                if field not in BITSANDBYTES_ALIASES and field not in BITSANDBYTES_OWNED]
    model_properties = schema["$defs"]["model"]["properties"]
    problems = []
    for path, spec in entries.items():
        section = spec["bitsandbytes"]
        if spec.get("quantization", "none") == "none":
            problems.append(f"{path}.bitsandbytes: the model loads unquantised (quantization: "
                            "none), where these fields would change nothing; allowed: "
                            "quantization: nf4, or leave bitsandbytes out")
            continue
        found = []
        for key in section:
            key_path = f"{path}.bitsandbytes.{key}"
            if key in BITSANDBYTES_ALIASES:
                alias = BITSANDBYTES_ALIASES[key]
                found.append(f"{key_path}: the workflow sets {what}'s {key} from {path}.{alias}; "
                             f"allowed: {alias}")
            elif key in BITSANDBYTES_OWNED:
                found.append(f"{key_path}: set by the workflow: {BITSANDBYTES_OWNED[key]}; "
                             "allowed: leave it out")
            elif key not in fields:
                nearest = difflib.get_close_matches(key, settable, n=5, cutoff=0.6)
                found.append(
                    f"{key_path}: not a field of {what}; allowed: "
                    + (f"the nearest {', '.join(nearest)}, or another of its fields "
                       f"({reference})" if nearest else f"{', '.join(settable)} ({reference})"))
        problems += found
        if found or not construct:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantization_config(_filled(spec, model_properties))
        except (ValueError, TypeError) as error:
            problems.append(f"{path}.bitsandbytes: {what} refuses these settings "
                            f"({', '.join(section)}): {error}")
    return problems
