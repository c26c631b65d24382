"""SFT and DPO with TRL's trainers on LoRA (or QLoRA) adapters; the trainers do the loops.

SFT trains a fresh LoRA adapter on prompt/completion pairs with the loss on the completion
only. The matched-compute control continues that adapter with the same trainer for as many
training FLOPs as the pairs and DPO jobs took. DPO starts from the SFT model: the SFT adapter
is loaded as the trainable adapter and, because no ``peft_config`` and no ``ref_model`` are
passed, TRL copies it into a frozen "ref" adapter and uses that as the reference. So the
reference is the SFT model, not the raw base (which is what disabling the adapter would
give). Where the pairs job already scored both
answers of every pair with that SFT model, DPO reads those values as the reference and runs
no reference pass (``dpo.reference_from_pairs``).

With ``share_prompt``, the code that builds a trainer installs the prefix sharing on its model
(:mod:`sftdpo.prefix_packing`) and returns it beside the trainer (:class:`BuiltTrainer`);
:func:`train_and_save` hands it to the compute record, which counts the tokens it ran.

TRL, PEFT and transformers configure themselves: a key of a stage's section that is not the
workflow's own (:data:`WORKFLOW_KEYS`) is a field of TRL's ``SFTConfig`` or ``DPOConfig``, and
one of the ``lora`` section a field of PEFT's ``LoraConfig``, passed as it is (``weight_decay``,
``optim``, ``report_to``, ``use_rslora``...). The fields the workflow sets itself are refused
while planning (:data:`ALIASES`, :data:`OWNED`; :func:`sftdpo.config.trainer_problems`, which
builds these configs as the jobs do). A run reports to the trackers of its ``report_to`` under
its own name (:class:`TrainingRun`); none sends anything unless its settings say where.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from .compute import RECORD_NAME, training_flops
from .io import partial_dir
from .modeling import load_base_model, load_tokenizer, load_with_adapter, native_bfloat16
from .prefix_packing import PrefixSharing, cheapest_groups, pair_groups, share_prefixes
from .runtime import JobMeter
from .tasks.base import Task

# TRL's private switch (trl/trainer/utils.py, TRL 1.16) read at every fused LM-head call.
TRL_SWITCH = "_use_triton"

# The keys of the config's sections that the workflow reads itself: the schema's
# ($defs.training_stage with sft's and dpo's own, and lora; tests/test_config.py checks that the
# two agree). Every other key of a stage's section is a field of TRL's SFTConfig (sft) or
# DPOConfig (dpo), of lora one of PEFT's LoraConfig, and is passed to it as it is.
STAGE_KEYS = ("epochs", "learning_rate", "batch_size", "gradient_accumulation_steps",
              "lr_scheduler", "warmup_steps", "gradient_checkpointing", "mixed_precision",
              "share_prompt", "group_by_length")
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
# Where a TensorBoard run's events go, in the adapter folder (or below TENSORBOARD_LOGGING_DIR).
TENSORBOARD_FOLDER = "tensorboard"


class TrainingRun(NamedTuple):
    """Which training a job runs: its trackers' run name and tags."""

    model: str
    task: str
    seed: int
    method: str
    candidate: str | None = None

    @classmethod
    def of(cls, wildcards, method: str) -> TrainingRun:
        """The run of a rule's job (``method``: sft, dpo or sft_matched; a tuning candidate's
        job has the candidate among its wildcards)."""
        return cls(wildcards.model, wildcards.task, int(wildcards.seed), method,
                   getattr(wildcards, "candidate", None))

    @property
    def name(self) -> str:
        """``<model>/<task>/seed<seed>/<method>[/<candidate>]``, as the results' paths go."""
        parts = [self.model, self.task, f"seed{self.seed}", self.method, self.candidate]
        return "/".join(part for part in parts if part is not None)

    def tags(self) -> dict[str, str]:
        return {key: str(value) for key, value in self._asdict().items() if value is not None}


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


def keep_trackers_offline(environ=os.environ) -> None:
    """Where the environment does not say otherwise: MLflow sends no telemetry, W&B logs
    offline (``wandb sync`` uploads later; WANDB_MODE=online streams). Before the trainer is
    built: its trackers' callbacks import their packages then, and MLflow reads its switch on
    import."""
    environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    environ.setdefault("WANDB_MODE", "offline")


def tensorboard_dir(run: TrainingRun | None, out_dir: Path) -> Path:
    """Where TensorBoard writes a run's events: ``$TENSORBOARD_LOGGING_DIR/<run name>`` where
    that is set, else the adapter folder's ``tensorboard/`` (written in the scratch folder,
    kept when the adapter is saved)."""
    base = os.environ.get("TENSORBOARD_LOGGING_DIR")
    if base and run is not None:
        return Path(base).expanduser() / run.name
    return partial_dir(out_dir) / TENSORBOARD_FOLDER


def track(trainer, run: TrainingRun | None, out_dir: Path) -> None:
    """Point the trainer's trackers at this run: TensorBoard's events to
    :func:`tensorboard_dir` (emptied first: a rerun starts its curves anew), and the run's
    tags (model, task, seed, method, candidate) onto its MLflow run."""
    from transformers import TrainerCallback
    from transformers.integrations import TensorBoardCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback):
            callback.logging_dir = str(tensorboard_dir(run, out_dir))
            shutil.rmtree(callback.logging_dir, ignore_errors=True)
    if run is None or "mlflow" not in trainer.args.report_to:
        return

    class RunTags(TrainerCallback):  # after transformers' MLflowCallback has started the run
        def on_train_begin(self, args, state, control, **kwargs):
            import mlflow

            if state.is_world_process_zero and mlflow.active_run() is not None:
                mlflow.set_tags(run.tags())

    trainer.add_callback(RunTags())


class BuiltTrainer(NamedTuple):
    """A TRL trainer and the prefix sharing installed on its model: None where its rows run
    unpacked (``share_prompt`` off, or an attention implementation without 4D masks). Pass
    both to :func:`train_and_save`: the compute record counts the tokens the sharing ran."""

    trainer: object
    sharing: PrefixSharing | None


@contextmanager
def score_labelled_positions_only():
    """While in the block, TRL's fused LM head scores only the positions that carry a label,
    on every device; TRL's own function is put back on leaving.

    TRL 1.16 does so only where Triton runs (CUDA, XPU); elsewhere it projects every position
    onto the whole vocabulary, though completion-only SFT and DPO label a few answer tokens.
    On a CPU that was most of a SmolLM2 step (tests/benchmarks/throughput.py prints the
    before/after). The loss is the same (tests/test_training.py checks it). The switch is
    private: where a TRL version lacks it (or it is not a function), this warns and changes
    nothing, so training still runs, only slower on a CPU.
    """
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, TRL_SWITCH, None)
    if not callable(original):
        warnings.warn(f"trl.trainer.utils.{TRL_SWITCH} is not a function in this TRL version: "
                      "its fused LM head scores every position on a CPU (slower training; "
                      "the tested versions are in constraints.txt)", RuntimeWarning,
                      stacklevel=3)
        yield
        return
    setattr(trl_utils, TRL_SWITCH, lambda device: True)
    try:
        yield
    finally:
        setattr(trl_utils, TRL_SWITCH, original)


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


def sft_records(task: Task, items: list[dict]) -> list[dict]:
    """Conversational prompt/completion rows, the format TRL masks to completion-only loss."""
    return [
        {
            "prompt": task.prompt_messages(item),
            "completion": [{"role": "assistant", "content": task.completion(item)}],
        }
        for item in items
    ]


def recorded_reference(pairs: list[dict]) -> bool:
    """Whether every pair carries the SFT model's log-probabilities of its two answers, as the
    pairs job records them where it ranks answers by likelihood (``hardest_wrong_label``)."""
    return bool(pairs) and all("chosen_logprob" in pair and "rejected_logprob" in pair
                               for pair in pairs)


def dpo_records(pairs: list[dict], with_reference: bool = False) -> list[dict]:
    """TRL's conversational preference rows; ``with_reference``: with the pairs' recorded
    log-probabilities in the columns TRL reads a precomputed reference from."""
    return [
        {
            "prompt": pair["prompt"],
            "chosen": [{"role": "assistant", "content": pair["chosen"]}],
            "rejected": [{"role": "assistant", "content": pair["rejected"]}],
            **({"ref_chosen_logps": pair["chosen_logprob"],
                "ref_rejected_logps": pair["rejected_logprob"]} if with_reference else {}),
        }
        for pair in pairs
    ]


def trainer_arguments(stage: dict, seed: int, device: str, out_dir: Path,
                      run: TrainingRun | None = None) -> dict:
    """Settings shared by SFTConfig and DPOConfig, from one stage's section of the config: the
    workflow's defaults, the section's TRL fields over them, and what the workflow decides."""
    return {
        "report_to": [],
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
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


def save_adapter(trainer, out_dir: Path, compute: dict) -> None:
    """Save only the trained adapter, the trainer's log, and its compute record with the
    trainer's step count and runtime (``compute.json``); all or nothing."""
    partial = partial_dir(out_dir)
    # The trainer's leftovers go; a TensorBoard run's events stay with the adapter.
    for entry in partial.iterdir() if partial.is_dir() else []:
        if entry.is_dir() and entry.name != TENSORBOARD_FOLDER:
            shutil.rmtree(entry)
        elif not entry.is_dir():
            entry.unlink()
    # PEFT holds target_modules as a set and writes it in the set's order, which follows
    # Python's per-process string hashing: sorted, a rerun's adapter_config.json is the same
    # file (peft 0.21, LoraConfig.save_pretrained; PEFT reads a list back as that set).
    config = trainer.model.peft_config["default"]
    if isinstance(config.target_modules, set):
        config.target_modules = sorted(config.target_modules)
    trainer.model.save_pretrained(partial, selected_adapters=["default"])
    trainer.processing_class.save_pretrained(partial)
    state = trainer.state
    record = {
        **compute,
        "train_runtime": state.log_history[-1].get("train_runtime"),
        "global_steps": state.global_step,
    }
    (partial / "log_history.json").write_text(json.dumps(state.log_history, indent=2))
    (partial / RECORD_NAME).write_text(json.dumps(record, indent=2))
    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)


def validate_after_last_step():
    """A callback that has the trainer compute its validation loss after its last step, where
    ``eval_strategy`` is ``no`` (transformers has no strategy for "at the end only")."""
    from transformers import TrainerCallback

    class ValidateAfterLastStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps:
                control.should_evaluate = True

    return ValidateAfterLastStep()


def build_sft_trainer(
    model_dir, spec: dict, task: Task, train_items: list[dict],
    validation_items: list[dict], settings: dict, seed: int, device: str, out_dir: Path,
    *, run: TrainingRun | None = None,
) -> BuiltTrainer:
    """TRL's SFTTrainer on a fresh LoRA adapter, and its prefix sharing (:class:`BuiltTrainer`);
    the validation loss is logged after the last step, or after each epoch
    (``sft.validation_loss``). ``run``: the trackers' name for it."""
    stage = settings["sft"]
    each_epoch = stage["validation_loss"] == "each_epoch"
    keep_trackers_offline()
    model = load_base_model(model_dir, spec, device, for_training=True)
    args = sft_config(sft_arguments(stage, seed, device, out_dir, run))
    built = _sft_trainer(model, args, task, train_items, validation_items, model_dir,
                         lora_config(settings["lora"], model.config.num_hidden_layers),
                         None if each_epoch else [validate_after_last_step()], stage)
    track(built.trainer, run, out_dir)
    return built


def build_matched_trainer(
    model_dir, spec: dict, task: Task, train_items: list[dict], sft_adapter_dir,
    settings: dict, steps: int, sft_steps: int, seed: int, device: str, out_dir: Path,
    *, run: TrainingRun | None = None,
) -> BuiltTrainer:
    """The matched-compute control: TRL's SFTTrainer continuing the SFT adapter on the same
    training items for ``steps`` steps (as many training FLOPs as the pairs and DPO jobs
    took; :func:`sftdpo.compute.matched_steps`), with SFT's settings and the same schedule
    shape: warmup the same share of the steps (SFT's took ``sft_steps``), then the same
    decay. No validation pass: its compute would not be training. With its prefix sharing
    (:class:`BuiltTrainer`). ``run``: the trackers' name for it."""
    stage = settings["sft"]
    keep_trackers_offline()
    model = load_with_adapter(model_dir, spec, sft_adapter_dir, device, trainable=True)
    args = sft_config(sft_arguments(stage, seed, device, out_dir, run) | {
        "max_steps": steps,
        "warmup_steps": round(stage["warmup_steps"] * steps / max(1, sft_steps)),
        "eval_strategy": "no",
    })
    built = _sft_trainer(model, args, task, train_items, None, model_dir, None, None, stage)
    track(built.trainer, run, out_dir)
    return built


def _sft_arguments(stage: dict) -> dict:
    """SFTConfig's settings of the workflow: completion-only loss, no packing, length
    grouping where configured."""
    return {"completion_only_loss": True, "packing": False,
            "train_sampling_strategy": "group_by_length" if stage["group_by_length"]
            else "random"}


def _sft_trainer(model, args, task: Task, train_items: list[dict],
                 validation_items: list[dict] | None, model_dir, peft_config, callbacks,
                 stage: dict) -> BuiltTrainer:
    from datasets import Dataset
    from trl import SFTTrainer

    # The system turn every row starts with runs once per packed sequence.
    sharing = share_prefixes(model, cheapest_groups) if stage["share_prompt"] else None
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(sft_records(task, train_items)),
        eval_dataset=(None if validation_items is None
                      else Dataset.from_list(sft_records(task, validation_items))),
        processing_class=load_tokenizer(model_dir),
        peft_config=peft_config,
        callbacks=callbacks,
    )
    return BuiltTrainer(trainer, sharing)


def build_dpo_trainer(
    model_dir, spec: dict, sft_adapter_dir, pairs: list[dict], settings: dict,
    seed: int, device: str, out_dir: Path, *, run: TrainingRun | None = None,
) -> BuiltTrainer:
    """TRL's DPOTrainer continuing the SFT adapter, against a frozen copy of it, and its
    prefix sharing (:class:`BuiltTrainer`). ``run``: the trackers' name for it."""
    from datasets import Dataset
    from trl import DPOTrainer

    stage = settings["dpo"]
    keep_trackers_offline()
    model = load_with_adapter(model_dir, spec, sft_adapter_dir, device, trainable=True)
    # Before the trainer exists: a precomputed reference pass is packed too.
    sharing = share_prefixes(model, pair_groups) if stage["share_prompt"] else None
    # The reference is the SFT model, frozen: where the pairs job already scored both answers
    # of every pair with it, those values are the reference and no reference pass runs.
    from_pairs = (stage["precompute_reference"] and stage["reference_from_pairs"]
                  and recorded_reference(pairs))
    args = dpo_config(dpo_arguments(stage, seed, device, out_dir, from_pairs, run))
    # No peft_config and no ref_model: TRL copies the loaded SFT adapter into a frozen "ref"
    # adapter and computes the reference log-probabilities with it (precomputed: here, in the
    # constructor, so the LM-head switch covers it too).
    with score_labelled_positions_only():
        trainer = DPOTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(dpo_records(pairs, with_reference=from_pairs)),
            processing_class=load_tokenizer(model_dir),
        )
    if from_pairs:
        # TRL 1.16 reads the reference from each batch's ref_chosen_logps/ref_rejected_logps
        # when this attribute is set (DPOTrainer._compute_loss); its own precompute pass sets
        # it from precompute_ref_log_probs, which stays off so that pass does not run.
        # tests/test_training.py fails if a TRL version stops reading them.
        trainer.precompute_ref_logps = True
    track(trainer, run, out_dir)
    return BuiltTrainer(trainer, sharing)


def train_and_save(trainer, out_dir, meter: JobMeter | None = None, *,
                   sharing: PrefixSharing | None) -> None:
    """Train and save the adapter with the compute record of ``meter`` (the job's, started
    when the job started; without one, a meter started here). ``sharing``: the prefix sharing
    the trainer was built with (:class:`BuiltTrainer`), None where its rows run unpacked."""
    meter = meter or JobMeter(trainer.args.device.type)
    with meter.measure(), score_labelled_positions_only():
        trainer.train()
    # The tokens the model ran (the trainers' count, or the packed sequences' from the sharing)
    # and the FLOPs that follow from them and the model (sftdpo.compute).
    save_adapter(trainer, Path(out_dir), meter.record(**training_flops(trainer, sharing)))
