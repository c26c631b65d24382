"""What each training and generation job cost, and what DPO cost beside SFT.

Every GPU-capable job (sft, pairs, dpo, sft_matched, generate, judge; where a stage is tuned,
each candidate's training and validation generation) writes a compute record, a JSON object
with these fields (:meth:`sftdpo.runtime.JobMeter.record`), next to its output:

- ``device``: "cpu", or the CUDA device's name ("NVIDIA H100 80GB HBM3"; "N x name" for N GPUs).
- ``flops``: the estimated floating-point operations of the job's forward and backward passes
  (the formulas below); the compute ratios of compute.csv are ratios of these.
- ``cpu_seconds``: the process's CPU time (user + system, all its threads,
  ``time.process_time``) from the start of the meter to the record.
- ``wall_seconds``: the job's wall time from its start (once its GPU is leased: waiting for a
  GPU is not the job's cost) to the record, model loading included.
- ``accelerator_seconds``: on CUDA, the wall time of the job's compute section (training loop;
  generation or scoring loop), with ``torch.cuda.synchronize()`` at both ends so kernels still
  queued are counted: the time the GPU was held by the work, without loading and writing (the
  pairs job's section includes loading the base model where a strategy needs its summaries).
  On a CPU it is null, not 0: there is no accelerator, and 0 would read as "free".
- ``tokens``: tokens processed. Training: the non-padding input tokens the trainer fed the
  model, summed over steps and epochs (the trainers' ``num_input_tokens_seen`` with
  ``include_num_input_tokens_seen="non_padding"``). With ``share_prompt`` (the default):
  the tokens of the packed sequences the training steps ran, each DPO pair's prompt once and
  each SFT packed sequence's shared system turn once (:mod:`sftdpo.prefix_packing`; the
  trainer's count is ``input_tokens``); without it, TRL's count, every DPO prompt twice,
  with the chosen and with the rejected answer, as the model then runs them. The frozen
  reference's pass over the same tokens is not counted again. Generation and scoring: every
  non-padding token that went through the model, prompt tokens, generated tokens and scored
  answer tokens (the :class:`sftdpo.inference.TokenTally` the job's inference calls returned,
  added up; the record also gives the three counts).
- ``peak_memory_mib``: on CUDA, ``torch.cuda.max_memory_allocated`` (the tensors' peak; the
  CUDA context and the allocator's cache are not in it), summed over the job's GPUs; on a CPU
  the job process's peak resident set, the Python runtime included: on Linux the kernel's
  ``VmHWM`` (``ru_maxrss`` there would keep the peak of Snakemake's process, which started
  the job, across fork and exec), elsewhere ``ru_maxrss``. MiB.

FLOPs (``flops``), from N_b, the parameters of the decoder blocks (the per-token matmul weights;
a 4-bit weight counts its unpacked size), N_a, the adapter's parameters (the active adapter's,
beside the weights: never merged; 0 for the base model), N_h, the LM head's (frozen: LoRA is
never on it; with tied embeddings the embedding matrix), s, the share of the blocks the
gradient flows through (from the top down to the lowest adapted block: 1 without
``top_layers``), token counts T and labelled-position counts P:

- a forward pass costs F = 2 (N_b + N_a) per token;
- a training step costs F + B = 2 N_b (1 + s) + 6 N_a per token (:func:`training_flops_per_token`:
  the backward pass is 2 N_b s for the activation gradients through frozen weights and 4 N_a
  for the adapters' activation and weight gradients), plus F again where gradient
  checkpointing recomputes the forward;
- the LM head runs on the labelled positions only (the positions whose next token the loss
  scores: TRL 1.16's fused head, with :func:`sftdpo.training.score_labelled_positions_only`
  on every device): H = 6 N_h per position of a training step
  (:func:`head_training_flops_per_position`: the forward projection 2 N_h; the backward
  recomputes it, 2 N_h, and takes the activation gradient, 2 N_h; no weight gradient), 2 N_h
  per position of a no-gradient pass. P_train is the labelled positions of one pass over the
  training rows (:func:`labelled_positions`: SFT, the completion tokens TRL labels; DPO, the
  chosen and the rejected answer of every pair, as truncated to ``max_length``) times the
  epochs run (:func:`epochs_run`: where ``max_steps`` ends a run inside an epoch, that
  epoch's rows at the training rows' mean); prefix sharing changes no labelled position;
- SFT: T_train (F + B) + T_eval F + P_train H + P_eval 2 N_h, T_eval and P_eval the validation
  split's tokens and labelled positions times the evaluations run (with ``share_prompt``,
  T_eval is the packed tokens those passes ran); the matched-compute control (sft_matched)
  is an SFT job and is counted the same way;
- DPO: T_train (F + B) + T_ref F + P_train H + P_ref 2 N_h: the frozen reference's forward
  over the same sequences, once per pair when TRL precomputes it (T_ref = T_train / epochs
  run, P_ref one pass's positions), at every step otherwise (T_ref = T_train, P_ref =
  P_train); with ``share_prompt`` T_ref is the packed tokens the no-gradient passes ran,
  counted as they run; T_ref = P_ref = 0 where the reference is read from the pairs
  (``dpo.reference_from_pairs``: the pairs job's record holds that scoring);
- generate, pairs, judge (no backward): T F + 2 N_h (T_generated + T_scored): every token
  through the blocks, the vocabulary projection where a position's logits are used.

Attention scores (under 3% at these lengths) and the elementwise work (norms, activations,
the head's softmax) are left out.
Where a TRL version lacks the LM-head switch (it warns), a CPU run projects every position, so
its head then ran more than is counted. A training record gives the counts it used
(``block_parameters``, ``trainable_parameters``, ``adapted_share``, ``flops_per_token``,
``head_parameters``, ``head_positions`` (P_train), ``reference_tokens`` and
``reference_head_positions`` (DPO) or ``evaluation_tokens`` and ``evaluation_head_positions``
(SFT)).

Where the records are: one name, :data:`RECORD_NAME`: ``compute.json`` in an sft, dpo or
sft_matched adapter folder and in a tuning candidate's adapter folder; ``<output>.compute.json``
beside the JSONL output of pairs, generate, judge and a candidate's validation generation.

``results/summary/compute.csv`` (:func:`compute_csv`) has the columns ``model, task, seed,
stage, method, device, flops, cpu_seconds, wall_seconds, accelerator_seconds, tokens,
peak_memory_mib``; an empty cell where a value is null (accelerator seconds on a CPU). Per
model and task:

- one row per job, by seed, in :data:`JOB_STAGES` order: sft, pairs, dpo, sft_matched (the
  matched-compute control: SFT continued from the SFT adapter for about the FLOPs of pairs +
  dpo, :func:`matched_steps`; where the run has it), generate and judge (``method``: the
  generated or judged method, in :data:`METHOD_ORDER`), then ``tuning`` where a stage is
  tuned: one row per candidate (``method`` "<stage>:<candidate>", e.g. "sft:lr0.001"), its
  training record and its validation generation's summed (:func:`sum_parts`: peak memory the
  larger). Tuning rows count every candidate, the chosen one included: the chosen candidate's
  adapter, its record with it, is copied to the stage's adapter folder, so its training is
  also the sft or dpo row. A candidate's validation scoring runs no model and writes no
  record: not counted;
- then its ratio rows (:func:`cost_ratios`; ``seed``, ``method`` and ``peak_memory_mib``
  empty: peak memory does not add up over jobs), each measure a ratio per seed, then the mean
  over the seeds that have sft, pairs and dpo rows: ``extra_over_sft``, (pairs + dpo) / sft,
  DPO's whole extra cost over SFT's; ``pipeline_over_sft``, (sft + pairs + dpo) / sft, SFT
  then DPO over SFT alone (the figure the paper's "2 to 3 times" compares to); and where an
  sft_matched row ran, ``matched_over_extra``, sft_matched / (pairs + dpo), how closely the
  control matched DPO's extra cost. Tuning is in no ratio row: :func:`dpo_costs` gives it
  beside them (``tuning_flops``, ``tuning_flops_ratio``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only in the gather job: importing it costs every model job 0.2 s
    import pandas as pd

KEYS = ("model", "task", "seed", "stage", "method")
MEASURES = ("flops", "cpu_seconds", "wall_seconds", "accelerator_seconds", "tokens",
            "peak_memory_mib")
COLUMNS = (*KEYS, "device", *MEASURES)
# May be null in a record: accelerator seconds on a CPU.
NULLABLE = ("accelerator_seconds",)
# The stages of compute.csv's job rows, in pipeline order (a seed's tuning candidates last:
# a cost of their own), then its ratio rows' (module docstring).
JOB_STAGES = ("sft", "pairs", "dpo", "sft_matched", "generate", "judge", "tuning")
RATIO_STAGES = ("extra_over_sft", "pipeline_over_sft", "matched_over_extra")
STAGE_ORDER = (*JOB_STAGES, *RATIO_STAGES)
# The measures a ratio row divides: peak memory does not add up over jobs, so it has none.
RATIO_MEASURES = ("flops", "cpu_seconds", "wall_seconds", "accelerator_seconds", "tokens")
# Generated and judged methods in table order (the package's METHODS may lag or lead), and the
# tuned stages, whose candidates' rows are "<stage>:<candidate>".
METHOD_ORDER = ("base", "sft", "sft_matched", "dpo")
TUNED_STAGE_ORDER = ("sft", "dpo")
# dpo_costs' columns, which the recommendation text reads by name.
COST_COLUMNS = ("model", "task", "n_seeds", "device", "sft_flops", "extra_flops",
                "extra_flops_ratio", "extra_cpu_ratio", "extra_wall_ratio",
                "extra_accelerator_ratio", "pipeline_flops_ratio", "matched_flops_ratio",
                "tuning_flops", "tuning_flops_ratio")
RECORD_NAME = "compute.json"


def _count(parameter) -> int:
    """A parameter's size; a bitsandbytes 4-bit weight is stored packed, its ``quant_state``
    holds the shape it stands for."""
    state = getattr(parameter, "quant_state", None)
    return math.prod(state.shape) if state is not None else parameter.numel()


def _blocks(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model.layers


def block_parameters(model) -> int:
    """Parameters of the decoder blocks: the per-token matmul weights, without the embedding
    and the LM head (run on some positions only: counted apart)."""
    return sum(_count(p) for name, p in _blocks(model).named_parameters() if "lora_" not in name)


def trainable_parameters(model) -> int:
    return sum(_count(p) for p in model.parameters() if p.requires_grad)


def head_parameters(model) -> int:
    head = model.get_output_embeddings()
    return 0 if head is None else sum(_count(p) for p in head.parameters())


def adapted_share(model) -> float:
    """The share of the decoder blocks a gradient flows through: from the top down to the
    lowest block holding a trainable parameter (0 with none)."""
    blocks = list(_blocks(model))
    lowest = next((i for i, block in enumerate(blocks)
                   if any(p.requires_grad for p in block.parameters())), len(blocks))
    return (len(blocks) - lowest) / len(blocks)


def forward_flops_per_token(block_params: int, adapter_params: int) -> float:
    """Matmul FLOPs per token of a forward pass: 2 x the block and adapter parameters."""
    return 2.0 * (block_params + adapter_params)


def training_flops_per_token(block_params: int, adapted_share: float, adapter_params: int
                             ) -> float:
    """Matmul FLOPs per token of one LoRA training step: the forward pass, 2 x the block
    parameters; the backward pass, 2 x the parameters of the blocks gradients flow through
    (from the top down to the lowest adapted block, ``adapted_share`` of them; frozen weights
    get no weight gradient); and the adapters' own forward and backward, 6 x theirs.
    Attention scores (under 3% at these lengths) are left out; the LM head, on labelled
    positions only, is counted apart (:func:`head_training_flops_per_position`)."""
    return 2.0 * block_params * (1.0 + adapted_share) + 6.0 * adapter_params


def _sequence_tokens(dataset, columns: Iterable[str]) -> int:
    """Non-padding tokens of one pass over a tokenised dataset: the summed lengths of the
    given columns."""
    present = [c for c in columns if dataset is not None and c in dataset.column_names]
    return sum(len(ids) for column in present for ids in dataset[column])


def head_training_flops_per_position(head_params: int) -> float:
    """Matmul FLOPs of the frozen LM head at one labelled position of a training step (TRL
    1.16's fused head, ``trl/kernels/chunked_logprob.py``): the forward projection, 2 x its
    parameters; the backward recomputes the projection (2 x) and takes the activation
    gradient (2 x); no weight gradient, the head being frozen (LoRA is never on it)."""
    return 6.0 * head_params


def _scored_span(prompt: int, completion: int, max_length: int | None, mode: str) -> int:
    """Of one DPO row, prompt + completion tokens truncated by TRL's collator to
    ``max_length`` (``keep_start`` or ``keep_end``), the completion positions the loss scores:
    those kept, but for the row's first (no token before it predicts it)."""
    end, start = prompt + completion, 0
    if max_length is not None:
        if mode == "keep_end":
            start = max(0, end - max_length)
        else:
            end = min(end, max_length)
    return max(0, min(prompt + completion, end) - max(prompt, start + 1))


def labelled_positions(dataset, max_length: int | None = None,
                       truncation_mode: str = "keep_start") -> int:
    """The positions one pass over a trainer's tokenised dataset scores with the LM head (TRL
    1.16 projects the labelled positions only, with the LM-head switch of
    :func:`sftdpo.training.score_labelled_positions_only`). SFT (completion-only loss): the
    ``labels`` TRL built from the completion mask and truncated, not -100, but for each row's
    first position (a ``completion_mask`` column where no labels were built yet); DPO: the
    chosen and the rejected answer of each pair (``chosen_ids``, ``rejected_ids``) as the
    collator truncates them to ``max_length``. Padding and shared prompt prefixes
    (:mod:`sftdpo.prefix_packing`) change no labelled position."""
    if dataset is None:
        return 0
    columns = dataset.column_names
    if "chosen_ids" in columns:
        return sum(_scored_span(len(prompt), len(answer), max_length, truncation_mode)
                   for prompt, chosen, rejected in zip(dataset["prompt_ids"],
                                                       dataset["chosen_ids"],
                                                       dataset["rejected_ids"], strict=True)
                   for answer in (chosen, rejected))
    if "labels" in columns:
        return sum(sum(label != -100 for label in labels[1:]) for labels in dataset["labels"])
    if "completion_mask" in columns:
        return sum(sum(mask[1:]) for mask in dataset["completion_mask"])
    return sum(max(len(ids) - 1, 0) for ids in dataset["input_ids"])


def epochs_run(trainer) -> float:
    """How many passes over its training rows a finished trainer made: ``state.epoch`` where
    it is whole; where ``max_steps`` stopped it inside an epoch, the full epochs plus the share
    of the rows its batches of that epoch held (``state.epoch`` counts batches, and an epoch's
    last batch may be short)."""
    state, args = trainer.state, trainer.args
    epoch = float(state.epoch or 0.0)
    full = math.floor(epoch + 1e-6)
    rows = len(trainer.train_dataset) if trainer.train_dataset is not None else 0
    if epoch - full < 1e-6 or rows == 0:
        return float(full)
    batch = args.train_batch_size * max(1, args.world_size)
    batches = round((epoch - full) * math.ceil(rows / batch))
    return full + min(rows, batches * batch) / rows


def training_flops(trainer, sharing) -> dict:
    """The ``flops`` of a finished SFT or DPO training job (module docstring) and the counts
    behind them, from the trainer: its model, its token count (``num_input_tokens_seen``),
    its tokenised datasets (labelled positions), its state (epochs run), its log (evaluations
    run) and its settings (reference precomputed, gradient checkpointing); and from
    ``sharing``, the :class:`sftdpo.prefix_packing.PrefixSharing` the code that built the
    trainer installed on its model (:func:`sftdpo.training.build_sft_trainer` and the others
    return it), or None where the rows ran unpacked: with it, the tokens the packed sequences
    ran are the tokens counted."""
    model, args, state = trainer.model, trainer.args, trainer.state
    blocks, adapters = block_parameters(model), trainable_parameters(model)
    share = adapted_share(model)
    forward = forward_flops_per_token(blocks, adapters)
    per_token = training_flops_per_token(blocks, share, adapters)
    if args.gradient_checkpointing:
        per_token += forward
    head = head_parameters(model)
    tokens = int(state.num_input_tokens_seen)
    counts = {"block_parameters": blocks, "trainable_parameters": adapters,
              "adapted_share": share, "flops_per_token": per_token, "head_parameters": head}
    dpo = hasattr(args, "precompute_ref_log_probs")
    # The LM head's labelled positions: one pass over the training rows, times the passes run.
    truncation = getattr(args, "truncation_mode", "keep_start")
    per_epoch = labelled_positions(trainer.train_dataset, args.max_length, truncation)
    positions = round(per_epoch * epochs_run(trainer))
    if dpo:
        if not trainer.precompute_ref_logps:  # the reference at every step
            reference_mode, head_forward = "each_step", positions
        elif args.precompute_ref_log_probs:  # TRL's pass, once
            reference_mode, head_forward = "precomputed", per_epoch
        else:  # read from the pairs (sftdpo.training): no pass
            reference_mode, head_forward = "from_pairs", 0
    else:  # SFT: the validation passes
        evaluations = sum("eval_loss" in entry for entry in state.log_history)
        head_forward = evaluations * labelled_positions(trainer.eval_dataset, args.max_length)
    counts["head_positions"] = positions
    counts["reference_head_positions" if dpo else "evaluation_head_positions"] = head_forward
    if sharing is not None:  # rows' shared starts run once: what ran
        tokens, reference = sharing.trained_tokens, sharing.forward_only_tokens
        counts["input_tokens"] = int(state.num_input_tokens_seen)
    elif dpo:  # DPO: the reference's forward
        reference = {"each_step": tokens, "from_pairs": 0,
                     "precomputed": round(tokens / (epochs_run(trainer) or 1.0))}[reference_mode]
    else:
        reference = evaluations * _sequence_tokens(trainer.eval_dataset, ["input_ids"])
    counts["reference_tokens" if dpo else "evaluation_tokens"] = reference
    flops = (tokens * per_token + reference * forward
             + positions * head_training_flops_per_position(head) + head_forward * 2.0 * head)
    return {"tokens": tokens, "flops": flops, **counts}


def sft_training_flops(record: Mapping) -> float:
    """The training steps' share of an SFT job's ``flops`` (its record's counts, module
    docstring): every step's blocks, adapters and LM head, without the validation passes."""
    fields = ("tokens", "flops_per_token", "head_positions", "head_parameters")
    missing = [field for field in fields if field not in record]
    if missing:
        raise ComputeRecordError(f"SFT compute record has no {', '.join(map(repr, missing))} "
                                 "(written before the LM head was counted: rerun the sft job)")
    return (record["tokens"] * record["flops_per_token"]
            + record["head_positions"] * head_training_flops_per_position(
                record["head_parameters"]))


def matched_steps(sft: Mapping, budget: float) -> int:
    """The steps of the matched-compute control: as many as make ``budget`` FLOPs (the pairs
    and DPO jobs' ``flops``) at the FLOPs of one of the SFT job's training steps (its record's
    :func:`sft_training_flops` over its ``global_steps``); at least 1."""
    per_step = sft_training_flops(sft) / max(1, sft["global_steps"])
    return max(1, round(budget / per_step)) if per_step > 0 else 1


def inference_flops(model, tally) -> float:
    """The ``flops`` of a job that only runs the model (generate, pairs, judge): every token
    of ``tally`` (:class:`sftdpo.inference.TokenTally`) through the blocks and the adapters,
    and the LM head on the generated and scored positions."""
    forward = forward_flops_per_token(block_parameters(model), _adapter_parameters(model))
    return (tally.processed * forward
            + 2.0 * head_parameters(model) * (tally.generated + tally.scored))


def _adapter_parameters(model) -> int:
    """Parameters of the active adapter in the blocks (a PEFT model's ``active_adapter``; a
    DPO model also holds the frozen "ref" copy); 0 for the base model."""
    active = getattr(model, "active_adapter", None)
    return sum(_count(p) for name, p in _blocks(model).named_parameters()
               if "lora_" in name and (active is None or f".{active}." in name))


class ComputeRecordError(ValueError):
    """A compute record lacks a field or holds a value of the wrong kind."""


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_record(record: Mapping, source: str) -> None:
    """Raise :class:`ComputeRecordError` naming ``source`` and the field, if a field is missing
    or not what the module docstring says."""
    for field in ("device", *MEASURES):
        if field not in record:
            raise ComputeRecordError(
                f"{source}: compute record has no field {field!r} (expected "
                f"{', '.join(('device', *MEASURES))}; a record written before compute "
                "accounting: rerun the job)")
        value = record[field]
        if field == "device":
            ok, expected = isinstance(value, str) and bool(value), "a device name"
        elif field == "tokens":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            expected = "a whole number >= 0"
        else:
            ok = (_is_number(value) and value >= 0) or (value is None and field in NULLABLE)
            expected = "a number >= 0" + (" or null" if field in NULLABLE else "")
        if not ok:
            raise ComputeRecordError(f"{source}: field {field!r} is {value!r}; expected {expected}")


def load_record(path: str | Path, key: Mapping) -> dict:
    """One job's record, under its ``key`` (``model``, ``task``, ``seed``, ``stage`` and, for
    generate, judge and tuning, ``method``; ``part`` where the job's cost is in several records,
    :func:`sum_parts`). ``path`` is the JSON file, or an adapter folder, whose ``compute.json``
    is read."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComputeRecordError(f"{path}: no compute record there") from None
    except json.JSONDecodeError as error:
        raise ComputeRecordError(f"{path}: not JSON ({error})") from None
    if not isinstance(record, dict):
        raise ComputeRecordError(f"{path}: expected a JSON object, found {type(record).__name__}")
    check_record(record, str(path))
    return {"model": key["model"], "task": key["task"], "seed": key["seed"],
            "stage": key["stage"], "method": key.get("method"), "source": str(path),
            **({"part": key["part"]} if "part" in key else {}),
            **{field: record[field] for field in ("device", *MEASURES)}}


def load_records(paths: Iterable[str | Path], keys: Iterable[Mapping]) -> list[dict]:
    """The records of ``paths`` under their ``keys`` (:func:`load_record`), the parts of one
    job summed (:func:`sum_parts`)."""
    return sum_parts([load_record(path, key) for path, key in zip(paths, keys, strict=True)])


def sum_parts(records: list[dict]) -> list[dict]:
    """The records, those with a ``part`` (a tuning candidate's ``training`` and
    ``validation``) summed into one per job key, where the first of them was: FLOPs, CPU,
    wall and accelerator seconds (null if a part's is) and tokens add up; peak memory is the
    largest part's; ``device`` lists the parts' devices, ``source`` their files."""
    merged: list[dict | list[dict]] = []
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        if "part" not in record:
            merged.append(record)
            continue
        key = tuple(record.get(column) for column in KEYS)
        if key not in groups:
            groups[key] = []
            merged.append(groups[key])
        groups[key].append(record)
    return [_summed(item) if isinstance(item, list) else item for item in merged]


def _summed(parts: list[dict]) -> dict:
    sources = [part.get("source", f"part {part['part']!r}") for part in parts]
    names = [part["part"] for part in parts]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:
        raise ComputeRecordError(f"{' and '.join(sources)}: part {twice!r} twice for the job "
                                 f"{ {key: parts[0].get(key) for key in KEYS} }")
    summed = {key: parts[0].get(key) for key in KEYS}
    summed["source"] = " + ".join(sources)
    summed["device"] = "; ".join(dict.fromkeys(part["device"] for part in parts))
    for measure in MEASURES:
        values = [part[measure] for part in parts]
        if measure == "peak_memory_mib":
            summed[measure] = max(values)
        elif any(value is None for value in values):
            summed[measure] = None
        else:
            summed[measure] = sum(values)
    return summed


def _method_rank(method) -> int:
    """Where a row's method goes among its stage's: none first, then METHOD_ORDER, a tuning
    candidate by its tuned stage (candidates of a stage in the records' order)."""
    if method is None or (isinstance(method, float) and math.isnan(method)):
        return -1
    if method in METHOD_ORDER:
        return METHOD_ORDER.index(method)
    stage = str(method).partition(":")[0]
    return TUNED_STAGE_ORDER.index(stage) if stage in TUNED_STAGE_ORDER else len(METHOD_ORDER)


def compute_table(records: list[dict]) -> pd.DataFrame:
    """One row per job record (``COLUMNS``), ordered by model, task, seed and pipeline stage.
    Each record needs the key fields and the measures; ``source`` (its file) names it in
    errors."""
    import pandas as pd

    if not records:
        raise ComputeRecordError("no compute records to gather")
    seen: dict[tuple, str] = {}
    for index, record in enumerate(records):
        source = record.get("source", f"compute record {index}")
        missing = [key for key in KEYS if key != "method" and key not in record]
        if missing:
            raise ComputeRecordError(f"{source}: no {', '.join(map(repr, missing))} to file "
                                     "the record under")
        if record["stage"] not in JOB_STAGES:
            raise ComputeRecordError(f"{source}: stage {record['stage']!r} is none of "
                                     f"{', '.join(JOB_STAGES)}")
        check_record(record, source)
        key = tuple(record.get(column) for column in KEYS)
        if key in seen:
            raise ComputeRecordError(f"{source} and {seen[key]}: two records for the same job "
                                     f"{dict(zip(KEYS, key, strict=True))}")
        seen[key] = source
    table = pd.DataFrame([{column: record.get(column) for column in COLUMNS}
                          for record in records])
    table["accelerator_seconds"] = table["accelerator_seconds"].astype(float)
    # Pipeline order: stages as they run, methods base, sft, sft_matched, dpo; a stage without
    # one first.
    order = {"_stage": table["stage"].map(STAGE_ORDER.index),
             "_method": table["method"].map(_method_rank)}
    return (table.assign(**order)
            .sort_values(["model", "task", "seed", "_stage", "_method"], kind="stable")
            .drop(columns=list(order)).reset_index(drop=True))


def _seed_costs(table: pd.DataFrame) -> dict:
    """Per model, task and seed that has sft, pairs and dpo rows (the index, sorted): each
    stage's ratio measures (``sft``, ``pairs``, ``dpo``; ``sft_matched``, NaN where it did not
    run), ``extra`` = pairs + dpo, ``tuning`` (the seed's tuning rows summed; 0 where none),
    and the ``devices`` of the rows behind each ratio."""
    import pandas as pd

    keys = ["model", "task", "seed"]

    def stage(name):
        rows = table[table["stage"] == name].set_index(keys)
        return rows[list(RATIO_MEASURES)].astype(float), rows["device"]

    (sft, sft_device), (pairs, pairs_device), (dpo, dpo_device) = map(
        stage, ("sft", "pairs", "dpo"))
    matched, matched_device = stage("sft_matched")
    seeds = sft.index.intersection(pairs.index).intersection(dpo.index).sort_values()
    tuning = (table[table["stage"] == "tuning"].astype({"flops": float})
              .groupby(keys)["flops"].sum())
    costs = {"index": seeds, "sft": sft.loc[seeds], "pairs": pairs.loc[seeds],
             "dpo": dpo.loc[seeds], "sft_matched": matched.reindex(seeds),
             "tuning_flops": tuning.reindex(seeds).fillna(0.0) if len(seeds) else
             pd.Series(dtype=float)}
    costs["extra"] = costs["pairs"] + costs["dpo"]
    training = pd.concat([sft_device.loc[seeds], pairs_device.loc[seeds],
                          dpo_device.loc[seeds]])
    control = pd.concat([matched_device[matched_device.index.isin(seeds)],
                         pairs_device.loc[seeds], dpo_device.loc[seeds]])
    costs["devices"] = {stage: rows.groupby(level=["model", "task"]).agg(
        lambda names: "; ".join(sorted(set(names))))
        for stage, rows in (("training", training), ("control", control))}
    return costs


def _over(numerator: pd.DataFrame, denominator: pd.DataFrame) -> pd.DataFrame:
    """Ratio per seed; NaN where either is null or the denominator is 0."""
    return numerator / denominator.replace(0, math.nan)


def _mean_by_task(per_seed: pd.DataFrame) -> pd.DataFrame:
    return per_seed.groupby(level=["model", "task"], sort=True).mean()


def cost_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """compute.csv's ratio rows (``COLUMNS``; ``seed``, ``method`` and ``peak_memory_mib``
    empty), per model and task, each measure a ratio per seed, then its mean over the seeds
    that have sft, pairs and dpo rows (over those of them where it is not NaN: accelerator
    seconds are NaN on a CPU, a ratio NaN where its denominator is 0):

    - ``extra_over_sft``: (pairs + dpo) / sft, DPO's whole extra cost over SFT's;
    - ``pipeline_over_sft``: (sft + pairs + dpo) / sft, SFT then DPO over SFT alone;
    - ``matched_over_extra`` (only where an ``sft_matched`` row ran, over the seeds that have
      one): sft_matched / (pairs + dpo), how closely the matched-compute control matched
      DPO's extra cost.

    ``device``: the devices of the rows divided."""
    import pandas as pd

    costs = _seed_costs(table)
    if costs["index"].empty:
        return pd.DataFrame(columns=list(COLUMNS))
    sft, extra, matched = costs["sft"], costs["extra"], costs["sft_matched"]
    ratios = {"extra_over_sft": _over(extra, sft),
              "pipeline_over_sft": _over(sft + extra, sft),
              "matched_over_extra": _over(matched, extra)[matched["flops"].notna()]}
    rows = []
    for position, (stage, per_seed) in enumerate(ratios.items()):
        if per_seed.empty:
            continue
        devices = costs["devices"]["control" if stage == "matched_over_extra" else "training"]
        means = _mean_by_task(per_seed)
        means["device"] = devices.reindex(means.index)
        rows.append(means.reset_index().assign(stage=stage, seed=None, method=None,
                                               peak_memory_mib=math.nan, _order=position))
    return (pd.concat(rows, ignore_index=True)
            .sort_values(["model", "task", "_order"], kind="stable")
            .reset_index(drop=True)[list(COLUMNS)])


def dpo_costs(table: pd.DataFrame) -> pd.DataFrame:
    """What DPO costs beside SFT, per model and task (``COST_COLUMNS``), each value a mean over
    the seeds that have sft, pairs and dpo rows (``n_seeds``; a ratio over those where it is
    not NaN), from :func:`compute_table`'s rows:

    - ``sft_flops``, ``extra_flops``: the SFT job's FLOPs; DPO's extra, pairs + dpo jobs;
    - ``extra_flops_ratio``, ``extra_cpu_ratio``, ``extra_wall_ratio``,
      ``extra_accelerator_ratio`` (NaN on a CPU): (pairs + dpo) / sft in FLOPs, CPU, wall
      and accelerator seconds (compute.csv's ``extra_over_sft`` row);
    - ``pipeline_flops_ratio``: (sft + pairs + dpo) / sft FLOPs;
    - ``matched_flops_ratio``: sft_matched / (pairs + dpo) FLOPs, over the seeds with the
      control; NaN without it;
    - ``tuning_flops``, ``tuning_flops_ratio``: the seed's tuning rows' FLOPs (every
      candidate's training and validation, the chosen ones' included), alone and over SFT's;
      0.0 where nothing was tuned.

    ``device``: the devices of the sft, pairs and dpo rows."""
    import pandas as pd

    costs = _seed_costs(table)
    if costs["index"].empty:
        return pd.DataFrame(columns=list(COST_COLUMNS))
    sft, extra, matched = costs["sft"], costs["extra"], costs["sft_matched"]
    per_seed = pd.DataFrame({
        "sft_flops": sft["flops"],
        "extra_flops": extra["flops"],
        "extra_flops_ratio": _over(extra["flops"], sft["flops"]),
        "extra_cpu_ratio": _over(extra["cpu_seconds"], sft["cpu_seconds"]),
        "extra_wall_ratio": _over(extra["wall_seconds"], sft["wall_seconds"]),
        "extra_accelerator_ratio": _over(extra["accelerator_seconds"],
                                         sft["accelerator_seconds"]),
        "pipeline_flops_ratio": _over(sft["flops"] + extra["flops"], sft["flops"]),
        "matched_flops_ratio": _over(matched["flops"], extra["flops"]),
        "tuning_flops": costs["tuning_flops"],
        "tuning_flops_ratio": _over(costs["tuning_flops"], sft["flops"]),
    })
    grouped = per_seed.groupby(level=["model", "task"], sort=True)
    result = grouped.mean()
    result["n_seeds"] = grouped.size()
    result["device"] = costs["devices"]["training"].reindex(result.index)
    return result.reset_index()[list(COST_COLUMNS)]


def compute_csv(table: pd.DataFrame) -> pd.DataFrame:
    """``compute.csv``'s rows: every job of :func:`compute_table`, then the ratio rows of each
    model and task (:func:`cost_ratios`; module docstring)."""
    import pandas as pd

    ratios = cost_ratios(table)
    rows = pd.concat([table.astype(object), ratios.astype(object)], ignore_index=True)
    # Each model and task: its jobs in the table's order, then its ratio rows.
    return (rows.assign(_ratio=rows["stage"].isin(RATIO_STAGES))
            .sort_values(["model", "task", "_ratio"], kind="stable")
            .drop(columns="_ratio").reset_index(drop=True))
