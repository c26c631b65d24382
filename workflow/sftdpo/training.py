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

TRL, PEFT and transformers configure themselves (:mod:`sftdpo.trainer_config` builds their
configs from the config's sections); a run reports to the trackers of its ``report_to``
(:mod:`sftdpo.trackers`).
"""

from __future__ import annotations

import json
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from .compute import RECORD_NAME
from .flops import parameter_counts, training_flops
from .io import partial_dir
from .launch import gather, is_main_process
from .modeling import load_base_model, load_tokenizer, load_with_adapter
from .prefix_packing import PrefixSharing, cheapest_groups, pair_groups, share_prefixes
from .runtime import JobMeter
from .tasks.base import Task
from .trackers import TENSORBOARD_FOLDER, TrainingRun, keep_trackers_offline, track
from .trainer_config import (
    dpo_arguments,
    dpo_config,
    lora_config,
    sft_arguments,
    sft_config,
)

# TRL's private switch (trl/trainer/utils.py, TRL 1.16) read at every fused LM-head call.
TRL_SWITCH = "_use_triton"


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


def save_adapter(trainer, out_dir: Path, compute: dict, state_dict: dict | None = None) -> None:
    """Save only the trained adapter, the trainer's log, and its compute record with the
    trainer's step count and runtime (``compute.json``); all or nothing. ``state_dict``: the
    model's whole, where the job's processes shard it (:func:`gathered_state_dict`)."""
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
    trainer.model.save_pretrained(partial, selected_adapters=["default"],
                                  **({} if state_dict is None else {"state_dict": state_dict}))
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
    took; :func:`sftdpo.flops.matched_steps`), with SFT's settings and the same schedule
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


def gathered_state_dict(trainer) -> dict | None:
    """The model's whole state dict where the job's processes shard it (FSDP: gathered to the
    first process as a full state dict; DeepSpeed: accelerate's consolidated one), as
    transformers' ``Trainer.save_model`` gathers it; None where every process holds the whole
    model (one process, DDP). Every process of the job must call it."""
    if getattr(trainer, "is_fsdp_enabled", False):
        plugin = trainer.accelerator.state.fsdp_plugin
        if "FULL_STATE_DICT" not in str(plugin.state_dict_type):
            plugin.set_state_dict_type("FULL_STATE_DICT")
        return trainer.accelerator.get_state_dict(trainer.model)
    if getattr(trainer, "is_deepspeed_enabled", False):
        return trainer.accelerator.get_state_dict(trainer.deepspeed)
    return None


class SharedTokens(NamedTuple):
    """The tokens a :class:`PrefixSharing` ran, summed over a job's processes."""

    trained_tokens: int
    forward_only_tokens: int


def train_and_save(trainer, out_dir, meter: JobMeter | None = None, *,
                   sharing: PrefixSharing | None) -> None:
    """Train and save the adapter with the compute record of ``meter`` (the job's, started
    when the job started; without one, a meter started here). ``sharing``: the prefix sharing
    the trainer was built with (:class:`BuiltTrainer`), None where its rows run unpacked.

    In a job of several processes (:mod:`sftdpo.launch`) every process trains and the first
    alone writes the adapter, with a compute record of the whole job: the trainer counts
    every process's tokens; the prefix sharing's tokens, the CPU and GPU seconds and the peak
    memory are summed over the processes (:func:`sftdpo.runtime.JobMeter.job_record`)."""
    meter = meter or JobMeter(trainer.args.device.type)
    # Before training wraps the model (its shards only, under FSDP or DeepSpeed ZeRO-3).
    counts = parameter_counts(trainer.model)
    with meter.measure(), score_labelled_positions_only():
        trainer.train()
    state_dict = gathered_state_dict(trainer)
    if sharing is not None:
        ran = gather((sharing.trained_tokens, sharing.forward_only_tokens))
        sharing = SharedTokens(*(sum(column) for column in zip(*ran, strict=True)))
    # The tokens the model ran (the trainers' count, or the packed sequences' from the sharing)
    # and the FLOPs that follow from them and the model (sftdpo.flops).
    record = meter.job_record(**training_flops(trainer, sharing, counts))
    if is_main_process():
        save_adapter(trainer, Path(out_dir), record, state_dict)
