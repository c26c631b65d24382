"""The ``flops`` of a compute record (:mod:`sftdpo.compute`): what a job's forward and
backward passes cost, counted from its model's parameters and the tokens it ran.

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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from .compute import ComputeRecordError


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


def parameter_counts(model) -> dict:
    """The model's counts a training record's FLOPs follow from (module docstring), taken
    before training: once a job of several processes wraps the model (FSDP, DeepSpeed ZeRO-3)
    each process holds only its share of the weights."""
    blocks, adapters = block_parameters(model), trainable_parameters(model)
    return {"block_parameters": blocks, "trainable_parameters": adapters,
            "adapted_share": adapted_share(model), "head_parameters": head_parameters(model)}


def training_flops(trainer, sharing, counts: Mapping | None = None) -> dict:
    """The ``flops`` of a finished SFT or DPO training job (module docstring) and the counts
    behind them, from the trainer: its model, its token count (``num_input_tokens_seen``),
    its tokenised datasets (labelled positions), its state (epochs run), its log (evaluations
    run) and its settings (reference precomputed, gradient checkpointing); and from
    ``sharing``, the :class:`sftdpo.prefix_packing.PrefixSharing` the code that built the
    trainer installed on its model (:func:`sftdpo.training.build_sft_trainer` and the others
    return it), or None where the rows ran unpacked: with it, the tokens the packed sequences
    ran are the tokens counted. ``counts``: the model's :func:`parameter_counts`, taken
    before training (default: now). In a job of several processes the trainer's token count
    and datasets are the whole job's; ``sharing`` must hold every process's tokens, summed."""
    args, state = trainer.args, trainer.state
    counts = dict(counts) if counts is not None else parameter_counts(trainer.model)
    blocks, adapters = counts["block_parameters"], counts["trainable_parameters"]
    share, head = counts["adapted_share"], counts["head_parameters"]
    forward = forward_flops_per_token(blocks, adapters)
    per_token = training_flops_per_token(blocks, share, adapters)
    if args.gradient_checkpointing:
        per_token += forward
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
