"""What TRL's ``SFTConfig`` and ``DPOConfig`` and PEFT's ``LoraConfig`` are built from.

TRL, PEFT and transformers configure themselves: a key of a stage's section that is not the
workflow's own (:data:`WORKFLOW_KEYS`) is a field of TRL's ``SFTConfig`` or ``DPOConfig``, and
one of the ``lora`` section a field of PEFT's ``LoraConfig``, passed as it is (``weight_decay``,
``optim``, ``report_to``, ``use_rslora``...). The fields the workflow sets itself are refused
while planning (:data:`ALIASES`, :data:`OWNED`; :func:`sftdpo.passthrough.trainer_problems`,
which builds these configs as the jobs do, with the functions here).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from .io import partial_dir
from .modeling import native_bfloat16

if TYPE_CHECKING:
    from .trackers import TrainingRun

# The keys of the config's sections that the workflow reads itself: the schema's
# ($defs.training_stage with sft's and dpo's own, and lora; tests/test_config.py checks that the
# two agree). Every other key of a stage's section is a field of TRL's SFTConfig (sft) or
# DPOConfig (dpo), of lora one of PEFT's LoraConfig, and is passed to it as it is.
STAGE_KEYS = ("epochs", "learning_rate", "batch_size", "gradient_accumulation_steps",
              "lr_scheduler", "warmup_steps", "gradient_checkpointing", "mixed_precision",
              "share_prompt", "group_by_length", "processes", "accelerate_config")
WORKFLOW_KEYS = {
    "sft": (*STAGE_KEYS, "validation_loss"),
    "dpo": (*STAGE_KEYS, "beta", "loss_type", "loss_weights", "precompute_reference",
            "precompute_batch_size", "reference_from_pairs"),
    "lora": ("r", "alpha", "dropout", "target_modules", "top_layers"),
}
# What the rules add to a stage's section (common.smk, training_settings): the context length
# every stage truncates at.
RULE_KEYS = ("max_length",)
# A stage's keys that are not TRL's fields, whichever stage's section holds them (a test's
# settings may give both stages one dict).
_NOT_TRL = frozenset(WORKFLOW_KEYS["sft"] + WORKFLOW_KEYS["dpo"] + RULE_KEYS)

# Fields the workflow sets from a key of its own: refused in a section, naming that key.
_STAGE_ALIASES = {"num_train_epochs": "epochs", "per_device_train_batch_size": "batch_size",
                  "lr_scheduler_type": "lr_scheduler", "bf16": "mixed_precision",
                  "activation_checkpointing": "gradient_checkpointing"}
ALIASES = {
    "sft": _STAGE_ALIASES | {"eval_strategy": "validation_loss",
                             "train_sampling_strategy": "group_by_length"},
    "dpo": _STAGE_ALIASES | {"precompute_ref_log_probs": "precompute_reference",
                             "precompute_ref_batch_size": "precompute_batch_size"},
    "lora": {"lora_alpha": "alpha", "lora_dropout": "dropout", "layers_to_transform": "top_layers"},
}
# Fields the workflow owns, and what decides each: refused in a section with that reason.
_SEEDS = "the training seed is one of seeds: (default [seed])"
_SAVES = "the workflow saves the trained adapter once, after the last step, in results/adapters"
_HUB = "the adapter stays in results/adapters: nothing is sent to the hub"
_LOGS = "every step is logged: log_history.json, the training figures and the trackers read it"
_STAGE_OWNED = {
    "output_dir": "the adapter is written to results/adapters/ (the trainer's scratch folder "
                  "is beside it)",
    "seed": _SEEDS, "data_seed": _SEEDS,
    "use_cpu": "a job runs on the GPU it leases (resources: gpu), else on the CPU",
    "fp16": "mixed_precision decides: bf16 where the device computes in bfloat16, else none",
    "max_length": "context_length sets it, for every stage",
    "max_steps": "epochs decides how long SFT and DPO train; the matched control's steps "
                 "follow from their FLOPs",
    "run_name": "each run is named <model>/<task>/seed<seed>/<method>[/<candidate>]",
    "logging_strategy": _LOGS, "logging_steps": _LOGS,
    "include_num_input_tokens_seen": "the compute record counts the trained tokens with it",
    **dict.fromkeys(("save_strategy", "save_steps", "save_total_limit", "save_only_model",
                     "save_on_each_node", "enable_jit_checkpoint", "load_best_model_at_end",
                     "resume_from_checkpoint", "restore_callback_states_from_checkpoint"),
                    _SAVES),
    **dict.fromkeys(("push_to_hub", "hub_model_id", "hub_strategy", "hub_token",
                     "hub_private_repo", "hub_always_push", "hub_revision"), _HUB),
    "model_init_kwargs": "the workflow loads the model as its models: entry says",
    "trust_remote_code": "models.<name>.trust_remote_code decides",
}
_NO_EVALUATION = ("eval_steps", "eval_delay", "eval_on_start", "do_eval",
                  "per_device_eval_batch_size")
OWNED = {
    "sft": _STAGE_OWNED | dict.fromkeys(
        _NO_EVALUATION, "sft.validation_loss decides when SFT computes its validation loss "
        "(in batches of batch_size)") | {
        "completion_only_loss": "SFT trains on the answer only",
        "packing": "rows run unpacked; share_prompt runs what they share once"},
    "dpo": _STAGE_OWNED | dict.fromkeys(
        ("eval_strategy", *_NO_EVALUATION), "DPO computes no validation loss"),
    "lora": {"task_type": "the workflow trains causal language models (CAUSAL_LM)",
             "peft_type": "the workflow trains LoRA adapters",
             "base_model_name_or_path": "the models: entry decides",
             "revision": "the models: entry decides",
             "inference_mode": "the adapter is trained"},
}


def trl_fields(stage: dict) -> dict:
    """The keys of a stage's section that are TRL's fields (every key not the workflow's)."""
    return {key: value for key, value in stage.items() if key not in _NOT_TRL}


def peft_fields(lora: dict) -> dict:
    """The keys of the lora section that are PEFT's LoraConfig fields."""
    return {key: value for key, value in lora.items() if key not in WORKFLOW_KEYS["lora"]}


def _as_declared(config_class, arguments: dict) -> dict:
    """``arguments`` with a single value put back in a list where ``config_class``'s field
    takes only a list: the workflow reads a one-value list of a stage's section as that value
    (sftdpo.selection.scalar_settings, for the tuned settings), which a field such as
    ``label_names`` would read letter by letter."""
    annotations = {field.name: str(field.type) for field in dataclasses.fields(config_class)}

    def list_only(annotation: str) -> bool:
        parts = {part.strip() for part in annotation.split("|")} - {"None"}
        return bool(parts) and all(part.startswith("list[") for part in parts)

    return {key: [value] if value is not None and not isinstance(value, list)
            and list_only(annotations.get(key, "")) else value
            for key, value in arguments.items()}


def lora_config(settings: dict, num_layers: int):
    """LoRA on the configured modules; with ``top_layers: N`` only in the last N blocks, so the
    backward pass stops there (about half the step time of all 30 blocks of SmolLM2 on a CPU).
    The section's other keys are PEFT's LoraConfig fields (``use_rslora``, ``use_dora``...)."""
    from peft import LoraConfig

    top = settings["top_layers"]
    return LoraConfig(**peft_fields(settings) | {
        "r": settings["r"],
        "lora_alpha": settings["alpha"],
        "lora_dropout": settings["dropout"],
        "target_modules": settings["target_modules"],
        "layers_to_transform": None if top is None else list(range(max(0, num_layers - top),
                                                                   num_layers)),
        "task_type": "CAUSAL_LM",
    })


def trainer_arguments(stage: dict, seed: int, device: str, out_dir: Path,
                      run: TrainingRun | None = None) -> dict:
    """Settings shared by SFTConfig and DPOConfig, from one stage's section of the config: the
    workflow's defaults, the section's TRL fields over them, and what the workflow decides."""
    return {
        "report_to": [],
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
        # Several processes (DDP): every LoRA weight is in every forward pass, and gradient
        # checkpointing breaks DDP's search for unused ones; one process has no DDP.
        "ddp_find_unused_parameters": False,
        **trl_fields(stage),
        # The trainer's scratch folder; the adapter only appears at out_dir once complete.
        "output_dir": str(partial_dir(out_dir)),
        "num_train_epochs": stage["epochs"],
        "learning_rate": stage["learning_rate"],
        "per_device_train_batch_size": stage["batch_size"],
        "gradient_accumulation_steps": stage["gradient_accumulation_steps"],
        "max_length": stage["max_length"],
        "lr_scheduler_type": stage["lr_scheduler"],
        "warmup_steps": stage["warmup_steps"],
        "gradient_checkpointing": stage["gradient_checkpointing"],
        "seed": seed,
        "data_seed": seed,
        "logging_strategy": "steps",
        "logging_steps": 1,
        "save_strategy": "no",
        "use_cpu": device == "cpu",
        # bf16 autocast where the device has bfloat16 natively (sftdpo.modeling).
        "bf16": stage["mixed_precision"] == "bf16" and native_bfloat16(device),
        # The compute record's training tokens (sftdpo.compute).
        "include_num_input_tokens_seen": "non_padding",
        "run_name": None if run is None else run.name,
    }


def sft_arguments(stage: dict, seed: int, device: str, out_dir: Path,
                  run: TrainingRun | None = None) -> dict:
    """SFTConfig's keyword arguments for an SFT job: the validation loss after the last step
    (:func:`validate_after_last_step`), or after each epoch (``sft.validation_loss``)."""
    each_epoch = stage["validation_loss"] == "each_epoch"
    return trainer_arguments(stage, seed, device, out_dir, run) | _sft_arguments(stage) | {
        # A validation pass cost about an eighth of an epoch in the default experiment.
        "eval_strategy": "epoch" if each_epoch else "no",
        "per_device_eval_batch_size": stage["batch_size"],
    }


def dpo_arguments(stage: dict, seed: int, device: str, out_dir: Path, from_pairs: bool = False,
                  run: TrainingRun | None = None) -> dict:
    """DPOConfig's keyword arguments for a DPO job; ``from_pairs``: the reference is read from
    the pairs, so TRL's own reference pass does not run."""
    return trainer_arguments(stage, seed, device, out_dir, run) | {
        "beta": stage["beta"],
        "loss_type": stage["loss_type"],
        "loss_weights": stage["loss_weights"],
        # Otherwise its log-probabilities are computed in one no-gradient pass over the pairs
        # before training (with the "ref" adapter copy) and read from the batch at every step.
        "precompute_ref_log_probs": stage["precompute_reference"] and not from_pairs,
        "precompute_ref_batch_size": stage["precompute_batch_size"],
        "eval_strategy": "no",
    }


def sft_config(arguments: dict):
    """TRL's SFTConfig of :func:`sft_arguments`' keyword arguments."""
    from trl import SFTConfig

    return SFTConfig(**_as_declared(SFTConfig, arguments))


def dpo_config(arguments: dict):
    """TRL's DPOConfig of :func:`dpo_arguments`' keyword arguments."""
    from trl import DPOConfig

    return DPOConfig(**_as_declared(DPOConfig, arguments))


def _sft_arguments(stage: dict) -> dict:
    """SFTConfig's settings of the workflow: completion-only loss, no packing, length
    grouping where configured."""
    return {"completion_only_loss": True, "packing": False,
            "train_sampling_strategy": "group_by_length" if stage["group_by_length"]
            else "random"}
