"""What each training and generation job cost, and what DPO cost relative to SFT.

Every GPU-capable job (sft, pairs, dpo, generate, judge) writes a compute record, a JSON object
with these fields (:meth:`sftdpo.runtime.JobMeter.record`), next to its output:

- ``device``: "cpu", or the CUDA device's name ("NVIDIA H100 80GB HBM3"; "N x name" for N GPUs).
- ``flops``: the estimated floating-point operations of the job's forward and backward passes
  (the formulas below); the DPO/SFT ratio of compute is the ratio of these.
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
  answer tokens (:data:`sftdpo.inference.TALLY`; the record also gives the three counts).
- ``peak_memory_mib``: on CUDA, ``torch.cuda.max_memory_allocated`` (the tensors' peak; the
  CUDA context and the allocator's cache are not in it), summed over the job's GPUs; on a CPU
  the job process's peak resident set, the Python runtime included: on Linux the kernel's
  ``VmHWM`` (``ru_maxrss`` there would keep the peak of Snakemake's process, which started
  the job, across fork and exec), elsewhere ``ru_maxrss``. MiB.

FLOPs (``flops``), from N_b, the parameters of the decoder blocks (the per-token matmul weights;
a 4-bit weight counts its unpacked size), N_a, the adapter's parameters (the active adapter's,
beside the weights: never merged; 0 for the base model),
N_h, the LM head's, s, the share of the blocks the gradient flows through (from the top down
to the lowest adapted block: 1 without ``top_layers``), and token counts T:

- a forward pass costs F = 2 (N_b + N_a) per token;
- a training step costs F + B = 2 N_b (1 + s) + 6 N_a per token (:func:`training_flops_per_token`:
  the backward pass is 2 N_b s for the activation gradients through frozen weights and 4 N_a
  for the adapters' activation and weight gradients), plus F again where gradient
  checkpointing recomputes the forward;
- SFT: T_train (F + B) + T_eval F, T_eval the validation tokens times the evaluations run
  (with ``share_prompt``, the packed tokens those passes ran);
- DPO: T_train (F + B) + T_ref F: the frozen reference's forward over the same sequences, once
  per pair when it is precomputed (T_ref = T_train / epochs), at every step otherwise
  (T_ref = T_train); with ``share_prompt`` T_ref is the packed tokens the no-gradient passes
  ran, counted as they run; 0 where the reference is read from the pairs
  (``dpo.reference_from_pairs``: the pairs job's record holds that scoring);
- generate, pairs, judge (no backward): T F + 2 N_h (T_generated + T_scored): every token
  through the blocks, the vocabulary projection where a position's logits are used.

Attention scores (under 3% at these lengths) and the training LM head (TRL scores the labelled
positions only, a few answer tokens) are left out. A training record gives the counts it used
(``block_parameters``, ``trainable_parameters``, ``adapted_share``, ``flops_per_token``,
``reference_tokens`` or ``evaluation_tokens``).

Where the records are: one name, :data:`RECORD_NAME`: ``compute.json`` in an sft or dpo adapter
folder; ``<output>.compute.json`` beside the JSONL output of pairs, generate and judge.

``results/summary/compute.csv`` (:func:`compute_csv`) has the columns ``model, task, seed,
stage, method, device, flops, cpu_seconds, wall_seconds, accelerator_seconds, tokens,
peak_memory_mib``: one row per job (``method`` is the generated or judged method for generate
and judge, empty otherwise), then per model and task one row of stage ``dpo_over_sft`` whose
measure columns hold DPO's value divided by SFT's, the mean over the seeds that have both
(``seed`` empty); an empty cell where a value is null (accelerator seconds on a CPU). Its
``flops`` is the compute ratio; the ratio compares the two training jobs; the pairs job that
DPO also needs has its own rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import METHODS

if TYPE_CHECKING:  # pandas only in the gather job: importing it costs every model job 0.2 s
    import pandas as pd

KEYS = ("model", "task", "seed", "stage", "method")
MEASURES = ("flops", "cpu_seconds", "wall_seconds", "accelerator_seconds", "tokens",
            "peak_memory_mib")
COLUMNS = (*KEYS, "device", *MEASURES)
# May be null in a record: accelerator seconds on a CPU.
NULLABLE = ("accelerator_seconds",)
STAGE_ORDER = ("sft", "pairs", "dpo", "generate", "judge", "dpo_over_sft")
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
    and the LM head (which TRL's trainers run on labelled positions only)."""
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
    Attention scores (under 3% at these lengths) and the labelled positions' LM head are left
    out. A reference forward (DPO) adds ``2 * block_params`` per token."""
    return 2.0 * block_params * (1.0 + adapted_share) + 6.0 * adapter_params


def _sequence_tokens(dataset, columns: Iterable[str]) -> int:
    """Non-padding tokens of one pass over a tokenised dataset: the summed lengths of the
    given columns."""
    present = [c for c in columns if dataset is not None and c in dataset.column_names]
    return sum(len(ids) for column in present for ids in dataset[column])


def training_flops(trainer) -> dict:
    """The ``flops`` of a finished SFT or DPO training job (module docstring) and the counts
    behind them, from the trainer: its model, its token count (``num_input_tokens_seen``),
    its log (evaluations run) and its settings (reference precomputed, gradient
    checkpointing)."""
    from .prefix_packing import PrefixSharing, decoder_backbone  # torch: training jobs only

    model, args, state = trainer.model, trainer.args, trainer.state
    blocks, adapters = block_parameters(model), trainable_parameters(model)
    share = adapted_share(model)
    forward = forward_flops_per_token(blocks, adapters)
    per_token = training_flops_per_token(blocks, share, adapters)
    if args.gradient_checkpointing:
        per_token += forward
    tokens = int(state.num_input_tokens_seen)
    counts = {"block_parameters": blocks, "trainable_parameters": adapters,
              "adapted_share": share, "flops_per_token": per_token}
    sharing = decoder_backbone(model).forward
    dpo = hasattr(args, "precompute_ref_log_probs")
    if isinstance(sharing, PrefixSharing):  # rows' shared starts run once: what ran
        tokens, reference = sharing.trained_tokens, sharing.forward_only_tokens
        counts["input_tokens"] = int(state.num_input_tokens_seen)
        counts["reference_tokens" if dpo else "evaluation_tokens"] = reference
    elif dpo:  # DPO: the reference's forward
        if not trainer.precompute_ref_logps:  # at every step
            reference = tokens
        elif args.precompute_ref_log_probs:  # TRL's pass, once
            reference = round(tokens / (state.epoch or 1.0))
        else:  # read from the pairs (sftdpo.training): no pass
            reference = 0
        counts["reference_tokens"] = reference
    else:  # SFT: the validation passes
        evaluations = sum("eval_loss" in entry for entry in state.log_history)
        reference = evaluations * _sequence_tokens(trainer.eval_dataset, ["input_ids"])
        counts["evaluation_tokens"] = reference
    return {"tokens": tokens, "flops": tokens * per_token + reference * forward, **counts}


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
    generate and judge, ``method``). ``path`` is the JSON file, or an adapter folder, whose
    ``compute.json`` is read."""
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
            **{field: record[field] for field in ("device", *MEASURES)}}


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
        if record["stage"] not in STAGE_ORDER[:-1]:
            raise ComputeRecordError(f"{source}: stage {record['stage']!r} is none of "
                                     f"{', '.join(STAGE_ORDER[:-1])}")
        check_record(record, source)
        key = tuple(record.get(column) for column in KEYS)
        if key in seen:
            raise ComputeRecordError(f"{source} and {seen[key]}: two records for the same job "
                                     f"{dict(zip(KEYS, key, strict=True))}")
        seen[key] = source
    table = pd.DataFrame([{column: record.get(column) for column in COLUMNS}
                          for record in records])
    table["accelerator_seconds"] = table["accelerator_seconds"].astype(float)
    # Pipeline order: stages as they run, methods base, sft, dpo; a stage without one first.
    order = {"_stage": table["stage"].map(STAGE_ORDER.index),
             "_method": table["method"].map({m: i for i, m in enumerate(METHODS)}).fillna(-1)}
    return (table.assign(**order)
            .sort_values(["model", "task", "seed", "_stage", "_method"], kind="stable")
            .drop(columns=list(order)).reset_index(drop=True))


def dpo_over_sft_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and task: DPO's measures divided by SFT's, per seed, then the mean over the
    seeds that have both stages (``n_seeds``). A ratio is NaN where either value is null
    (accelerator seconds on a CPU) or SFT's is 0. ``device``: the devices the two ran on."""
    import pandas as pd

    keys = ["model", "task", "seed"]
    sft = table[table["stage"] == "sft"].set_index(keys)
    dpo = table[table["stage"] == "dpo"].set_index(keys)
    both = sft.index.intersection(dpo.index)
    columns = ["model", "task", "n_seeds", "device", *MEASURES]
    if both.empty:
        return pd.DataFrame(columns=columns)
    per_seed = pd.DataFrame({
        measure: dpo.loc[both, measure].astype(float)
        / sft.loc[both, measure].astype(float).replace(0, math.nan)
        for measure in MEASURES
    })
    pair_rows = pd.concat([sft.loc[both, ["device"]], dpo.loc[both, ["device"]]])
    grouped = per_seed.groupby(level=["model", "task"], sort=True)
    ratios = grouped.mean()
    ratios["n_seeds"] = grouped.size()
    ratios["device"] = pair_rows.groupby(level=["model", "task"])["device"].agg(
        lambda names: "; ".join(sorted(set(names))))
    return ratios.reset_index()[columns]


def compute_csv(table: pd.DataFrame) -> pd.DataFrame:
    """``compute.csv``'s rows: every job of :func:`compute_table`, then the ``dpo_over_sft``
    row of each model and task (module docstring)."""
    import pandas as pd

    ratios = dpo_over_sft_ratios(table).drop(columns="n_seeds")
    ratios = ratios.assign(seed=None, stage="dpo_over_sft", method=None)
    rows = pd.concat([table.astype(object), ratios[list(COLUMNS)].astype(object)],
                     ignore_index=True)
    # Each model and task: its jobs in the table's order, then its ratio row.
    return (rows.assign(_ratio=rows["stage"] == "dpo_over_sft")
            .sort_values(["model", "task", "_ratio"], kind="stable")
            .drop(columns="_ratio").reset_index(drop=True))
