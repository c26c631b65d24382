"""How much memory a model job takes at its peak, known before it starts, and what to
change where it cannot fit (:func:`fit_problem`, :func:`advice`). :mod:`sftdpo.job_memory`
makes a job's :class:`Job` from the config and checks it before and when the job starts.

The estimate, in MiB (2**20 bytes), is the sum of named parts (:class:`Estimate`):

- ``runtime``: the Python process with torch and transformers imported (and PEFT, TRL and
  datasets for training), the tokenizer and the job's data;
- ``weights``: every parameter in the dtype the job computes in (``dtype``, or float32 for
  bfloat16 on a CPU without it: :func:`compute_bytes`, as ``sftdpo.modeling.compute_dtype``);
  NF4 (``quantization: nf4``) keeps the blocks' linear weights in about half a byte each;
  while the model is built the weights file's pages are resident too (the peak of a job whose
  work is small), and on a GPU the model is built in host memory first;
- the stage's work, from the lengths of the job's own data where it exists (the longest items,
  the mean, the start all prompts share: :class:`sftdpo.token_lengths.Lengths`), else items
  as long as ``context_length``:

  - training (SFT, the control, DPO): the activations the backward pass keeps for each token
    in every adapted block (``lora.top_layers``), over the largest batch as the backbone runs
    it (rows padded to the longest; with ``share_prompt``, packed as
    ``sftdpo.prefix_packing``'s cost model packs them: :func:`training_batch`); eager
    attention's maps; TRL's fused LM head, which scores the labelled positions in vocabulary
    tiles of 32,768 columns; and a share of the weights for the trainer;
  - answers (pairs, generation, the judge): the key/value cache of a batch of prompts and the
    answers after them (generated ones grow it by concatenation), one block's intermediates,
    and the log-probabilities of every candidate answer over the vocabulary (likelihood
    scoring); the pairs job's second model where a summary task generates base summaries.

A training job of several processes (``processes``: :mod:`sftdpo.launch`) needs its host
memory once per process, each with its own copy of the model, and each GPU what one process
needs, but for the weights where FSDP or DeepSpeed ZeRO-3 shard them (``sharded``: a
process's share, of the weights only; the sharded gradients and optimiser state of a LoRA
adapter are small). The several-process figures are not measured.

The constants were measured on a CPU (SmolLM2-135M computing in float32, 2 threads, glibc
keeping freed memory: :func:`sftdpo.runtime.keep_freed_memory`): tests/benchmarks/memory.py
prints estimate against measured peak for every model job of a finished run. On a GPU the
same terms are counted in its dtype, plus :data:`CUDA_RESERVE_MIB`; those figures are not
measured yet.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .machine_memory import MB_PER_MIB, MIB, cpu_native_bfloat16
from .model_shape import ModelShape
from .token_lengths import Lengths

# --- calibration (CPU, float32 compute; tests/benchmarks/memory.py) ---------------------------
# The interpreter with torch and transformers imported (and PEFT for an adapter), the tokenizer
# and the job's data (the jobs that answer; a tiny model's peaked at 410-430 MiB); with PEFT,
# TRL and datasets too (the training jobs: 510 MiB measured after the imports).
RUNTIME_MIB = 450.0
TRAINING_RUNTIME_MIB = 520.0
# The same with CUDA's libraries and context (host memory; not measured here).
CUDA_RUNTIME_MIB = 2048.0
# GPU memory that is not a tensor: the CUDA context and the caching allocator's slack.
CUDA_RESERVE_MIB = 1024.0
# A training job's memory that does not grow with its batch, as a share of the weights' (the
# trainer, the first step's buffers: 200 MiB for SmolLM2's 513 MiB of float32 weights, about
# nothing for a tiny model's).
TRAINING_BASE_SHARE = 0.4
# Activation elements the backward pass keeps per token in an adapted block, in units of
# (12 x hidden + 4 x intermediate): the saved inputs of the norms, the projections and their
# LoRA branches, the rotated queries and keys, the gated MLP's four intermediates, and the
# gradients alive at the peak: 0.60 MiB per token for 8 blocks of SmolLM2 in float32.
ACTIVATION_FACTOR = 1.5
# The same for DPO's policy pass (chosen and rejected rows).
DPO_ACTIVATION_FACTOR = 1.5
# Bytes kept per attention-map element (query x key x head) in an adapted block where eager
# attention materialises the map: the softmax output, and the masked scores while it is
# computed (sdpa computes in tiles, with the 4D masks of packed prompts too).
ATTENTION_MAP_BYTES = 3.5
# TRL's fused LM head (trl/kernels/chunked_logprob.py): positions scored in chunks of 4096,
# the vocabulary in tiles of 32,768 columns; about 10 float32 tiles per position alive at once
# in its backward (1.25 MiB per labelled position).
HEAD_TOKEN_CHUNK = 4096
HEAD_VOCAB_TILE = 32768
HEAD_TILE_COPIES = 10
# Answers: one block's intermediates per token while it runs (the gated MLP's three and the
# attention's), and the float32 copies of the scored logits (the logits, their float32 copy
# and the log-softmax).
LAYER_TRANSIENT = 3.0
SCORED_LOGIT_COPIES = 3
# An inference batch's eager attention: the scores and their softmax.
INFERENCE_MAP_COPIES = 2
# Generation's key/value cache grows by a concatenation per token: the cache and its last copy,
# and the blocks that held the shorter ones (measured: 1.5 to 2.1 GiB for the same summaries,
# by how many tokens the model generated before every answer ended).
GENERATION_CACHE_COPIES = 2

TRAINING_STAGES = ("sft", "sft_matched", "dpo")

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def compute_bytes(dtype: str, device: str) -> int:
    """Bytes per element the model computes in: the entry's dtype, float32 for bfloat16 on a
    CPU without it (``sftdpo.modeling.compute_dtype``)."""
    if dtype == "bfloat16" and device == "cpu" and not cpu_native_bfloat16():
        return 4
    return DTYPE_BYTES.get(dtype, 4)


# --- the job --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What sizes a model job: its stage, model and settings, and the lengths of its data.

    ``batch_size``: a training stage's per-step batch (pairs for DPO), or the answering batch;
    ``adapted_layers``: the blocks LoRA trains (all where ``lora.top_layers`` is null);
    ``share_prompt``: packed rows run their shared start once, where the attention takes 4D
    masks; ``group_by_length``: SFT's largest batch holds the longest items (else the longest
    with items of mean length); ``second_model``: the pairs job loads the base model beside
    the SFT one to generate (a summary task's degradations); ``new_tokens``: tokens generated
    per prompt; ``scores``: the job ranks candidate answers by their likelihood;
    ``processes``: the processes a training job runs on, one per GPU; ``sharded``: they shard
    the weights (FSDP, DeepSpeed ZeRO-3)."""

    stage: str
    shape: ModelShape
    dtype: str
    lengths: Lengths
    batch_size: int
    quantization: str = "none"
    attention: str | None = None
    adapted_layers: int | None = None
    gradient_checkpointing: bool = False
    share_prompt: bool = False
    group_by_length: bool = True
    second_model: bool = False
    new_tokens: int = 0
    scores: bool = False
    name: str = ""
    processes: int = 1
    sharded: bool = False
    # The config section whose keys change it, for the advice (:func:`advice`).
    settings_key: str = ""


@dataclass
class Estimate:
    """A job's peak, in MiB: host memory, and GPU memory where it runs on one; by part."""

    host: float
    gpu: float | None
    parts: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    # A training job's processes: host memory for all of them, GPU memory and parts for one.
    processes: int = 1

    @property
    def mem_mb(self) -> int:
        """The host memory in Snakemake's (and SLURM's) megabytes, rounded up."""
        return math.ceil(self.host * MB_PER_MIB)

    def describe(self) -> str:
        main = f"{gib(self.host)} of memory" + (
            "" if self.gpu is None else f" and {gib(self.gpu)} on "
            + ("the GPU" if self.processes == 1 else "each GPU"))
        parts = ", ".join(f"{name} {gib(value)}" for name, value in self.parts.items()
                          if value >= 1)
        if self.processes > 1:
            parts = f"{self.processes} processes, each: {parts}"
        return f"{main} ({parts})"


def gib(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def weights_mib(job: Job, device: str, training: bool) -> float:
    shape, bytes_ = job.shape, compute_bytes(job.dtype, device)
    linear = shape.layers * shape.block_linear_parameters
    rest = shape.parameters - linear
    if job.quantization == "nf4":
        # 4-bit blocks with their double-quantised scales; what PEFT's kbit preparation leaves
        # unquantised (embeddings, norms) is float32 for training.
        return (linear * 0.516 + rest * (4 if training else bytes_)) / MIB
    return shape.parameters * bytes_ / MIB


def stored_weights_mib(job: Job) -> float:
    """The weights file's size: in the config's torch_dtype, else the entry's dtype (the
    embedded model is written in it)."""
    stored = job.shape.stored if job.shape.stored in DTYPE_BYTES else job.dtype
    return job.shape.parameters * DTYPE_BYTES.get(stored, 2) / MIB


@dataclass(frozen=True)
class Batch:
    """A training step's largest batch as the backbone runs it: ``tokens`` (padding included),
    ``sequences`` of up to ``longest`` tokens (packed groups, or rows), whether they are packed,
    and the ``labelled`` positions the LM head scores."""

    tokens: float
    sequences: int
    longest: float
    packed: bool
    labelled: float


def _block_cost(shape: ModelShape) -> Callable[[float, float], float]:
    """sftdpo.prefix_packing.PrefixSharing's cost of a token and of an attended pair."""
    block = shape.block_linear_parameters + 2 * shape.hidden
    return lambda tokens, pairs: tokens * block + pairs * 8 * shape.hidden


def training_batch(job: Job) -> Batch:
    """The job's largest batch (:class:`Batch`). Rows are padded to the longest; with
    ``share_prompt``, the rows (DPO: the pairs, each pair's prompt once) are packed as
    ``sftdpo.prefix_packing.cheapest_groups`` would: in 1, 2, 4 ... groups or none, whichever
    its cost model finds cheapest, a group's rows after its first running only what follows
    the start they share."""
    lengths, count = job.lengths, job.batch_size
    shared = min(lengths.shared, int(lengths.mean_prompt))
    # The batch that holds the longest item: with the next longest where batches are grouped
    # by length (SFT), else with items of mean length (DPO's batches are drawn at random).
    answers = [lengths.answer] + [lengths.mean_answer] * (count - 1)
    if job.stage == "dpo":
        prompts = [lengths.prompt] + [lengths.mean_prompt] * (count - 1)
        rows = [p + a for p, a in zip(prompts, answers, strict=True)] * 2
        units = [p + 2 * a for p, a in zip(prompts, answers, strict=True)]
        labelled = 2 * sum(answers)
    else:
        if job.group_by_length:
            top = list(lengths.longest[:count]) or [lengths.sequence]
            rows = top + [top[-1]] * (count - len(top))
        else:
            rows = [lengths.sequence] + [lengths.mean_prompt + lengths.mean_answer] * (count - 1)
        units = rows
        labelled = sum(answers)
    cost = _block_cost(job.shape)
    best = Batch(len(rows) * max(rows), len(rows), max(rows), False, labelled)
    if not (job.share_prompt and job.attention in ("eager", "sdpa")):
        return best
    best_cost = cost(best.tokens, len(rows) * max(rows) ** 2)
    splits = sorted({2**k for k in range(len(units).bit_length())} | {len(units)})
    for size in sorted({math.ceil(len(units) / split) for split in splits}, reverse=True):
        groups = [units[start:start + size] for start in range(0, len(units), size)]
        packed = [shared + sum(unit - shared for unit in group) for group in groups]
        candidate = cost(len(groups) * max(packed), len(groups) * max(packed) ** 2)
        if candidate < best_cost:
            best_cost = candidate
            best = Batch(len(groups) * max(packed), len(groups), max(packed), True, labelled)
    return best


def _training_parts(job: Job, bytes_: int, weights: float) -> dict[str, float]:
    shape = job.shape
    adapted = min(job.adapted_layers or shape.layers, shape.layers)
    batch = training_batch(job)
    factor = DPO_ACTIVATION_FACTOR if job.stage == "dpo" else ACTIVATION_FACTOR
    per_token = factor * (12 * shape.hidden + 4 * shape.intermediate) * bytes_
    kept = batch.tokens * adapted * per_token
    if job.gradient_checkpointing:
        # Measured with LoRA on the top 8 of SmolLM2's 30 blocks (sdpa, 5,900 tokens a batch):
        # 4.88 GB with it against 4.73 without, though transformers checkpoints every block
        # (non-reentrant). Counted so: the adapted blocks as without it, and the checkpointed
        # input of every other block, which then takes part in the backward pass.
        kept += batch.tokens * (shape.layers - adapted) * shape.hidden * bytes_
    # The attention maps of eager attention (sdpa computes them in tiles, 4D masks or not).
    maps = 0.0
    if job.attention == "eager":
        maps = (batch.sequences * shape.heads * batch.longest**2 * ATTENTION_MAP_BYTES
                * adapted)
    head = (min(batch.labelled, HEAD_TOKEN_CHUNK) * min(shape.vocabulary, HEAD_VOCAB_TILE)
            * 4 * HEAD_TILE_COPIES)
    return {"training": TRAINING_BASE_SHARE * weights, "activations": kept / MIB,
            "attention": maps / MIB, "LM head": head / MIB}


def _answering_parts(job: Job, bytes_: int) -> dict[str, float]:
    """One batch of answers: prompts sorted by length, so the largest holds the longest."""
    shape, lengths, rows = job.shape, job.lengths, job.batch_size
    per_token_cache = shape.layers * 2 * shape.kv_heads * shape.head_dim * bytes_
    prompt = lengths.prompt

    def block(tokens: float, keys: float) -> float:
        transient = tokens * LAYER_TRANSIENT * max(shape.intermediate, shape.hidden) * bytes_
        if job.attention == "eager":
            transient += tokens * keys * shape.heads * 4 * INFERENCE_MAP_COPIES
        return transient

    phases = {}
    if job.new_tokens:
        context = prompt + job.new_tokens
        phases["generating"] = {"cache": GENERATION_CACHE_COPIES * rows * context
                                * per_token_cache / MIB,
                                "one block": block(rows * prompt, prompt) / MIB}
    if job.scores:
        width = lengths.scored
        phases["scoring"] = {
            "cache": rows * (prompt + width) * per_token_cache / MIB,
            "one block": block(rows * max(prompt, width), prompt + width) / MIB,
            "scoring": rows * width * shape.vocabulary * 4 * SCORED_LOGIT_COPIES / MIB}
    if not phases:
        return {}
    parts = max(phases.values(), key=lambda parts: sum(parts.values()))
    if job.second_model:
        # The pairs job's base model, loaded to generate, is freed by Python's cyclic garbage
        # collector some time later: counted while the SFT model scores too.
        parts["second model"] = weights_mib(job, "cpu", False)
    return parts


def estimate(job: Job, device: str = "cpu") -> Estimate:
    """The job's peak on ``device`` ("cpu" or "cuda"), by part (module docstring)."""
    training = job.stage in TRAINING_STAGES
    bytes_ = compute_bytes(job.dtype, device)
    weights = weights_mib(job, device, training)
    work = (_training_parts(job, bytes_, weights) if training
            else _answering_parts(job, bytes_))
    loading = stored_weights_mib(job) if job.quantization == "none" else 0.0
    runtime = TRAINING_RUNTIME_MIB if training else RUNTIME_MIB
    processes = max(1, job.processes)
    if device == "cpu":
        parts = {"runtime": runtime, "weights": weights, **work}
        # The file's pages are resident while the model is built, before any of the work.
        host = max(sum(parts.values()), runtime + weights + loading)
        return Estimate(host=host * processes, gpu=None, parts=parts, device=device,
                        processes=processes)
    # On a GPU the model is built in host memory in its dtype (NF4: straight onto the GPU),
    # then moved.
    host_weights = weights if job.quantization == "none" else 0.0
    gpu_weights = weights / processes if job.sharded else weights
    gpu_parts = {"weights": gpu_weights, **work, "CUDA": CUDA_RESERVE_MIB}
    return Estimate(host=(CUDA_RUNTIME_MIB + host_weights + loading) * processes,
                    gpu=sum(gpu_parts.values()), parts=gpu_parts, device=device,
                    processes=processes)


# --- what to change -------------------------------------------------------------------------


def alternatives(job: Job) -> list[tuple[str, Job]]:
    """The settings that make the job smaller, each with the job it makes."""
    key = job.settings_key
    options = []
    if job.stage in TRAINING_STAGES:
        if not job.gradient_checkpointing:
            options.append((f"{key}.gradient_checkpointing: true",
                            replace(job, gradient_checkpointing=True)))
        if job.batch_size > 1:
            half = max(1, job.batch_size // 2)
            options.append((f"{key}.batch_size: {half} with {key}.gradient_accumulation_steps "
                            f"doubled (the same batch per update)",
                            replace(job, batch_size=half)))
    elif job.batch_size > 1:
        half = max(1, job.batch_size // 2)
        options.append((f"{key}.batch_size: {half}", replace(job, batch_size=half)))
    lengths, half = job.lengths, max(1, job.lengths.prompt // 2)
    half_context = replace(
        lengths, prompt=half, prompt_mean=min(lengths.mean_prompt, half),
        shared=min(lengths.shared, half),
        longest=tuple(min(length, half + lengths.answer) for length in lengths.longest))
    options.append(("a shorter context_length (half the prompt)"
                    if not job.lengths.measured else
                    "shorter items (half the longest prompt: context_length with too_long: "
                    "truncate)", replace(job, lengths=half_context)))
    if job.quantization == "none":
        options.append(("quantization: nf4 (QLoRA) on the model", replace(job, quantization="nf4")))
    return options


def advice(job: Job, device: str, part: Callable[[Estimate], float], have: float) -> str:
    """What to change, each with the estimate it gives (``part``: the part of an estimate that
    must fit in ``have``, host or GPU memory); only what makes the job a tenth smaller or more
    (gradient checkpointing, measured, does not where LoRA adapts only the top blocks)."""
    need = part(estimate(job, device))
    lines = []
    for what, smaller in alternatives(job):
        after = part(estimate(smaller, device))
        if after <= 0.9 * need:
            lines.append(f"{what}: about {gib(after)}" + (" (fits)" if after <= have else ""))
    return "; ".join(lines) or "a machine with more memory"


def lengths_note(lengths: Lengths) -> str:
    if lengths.measured:
        return (f"its longest item: {lengths.prompt} prompt and {lengths.answer} answer tokens"
                + (f", {lengths.scored} tokens of candidate answers" if lengths.scored else ""))
    return (f"items as long as the context allows ({lengths.sequence} tokens: the data is not "
            "built yet, and shorter items need less)")


def fit_problem(job: Job, device: str, host_mib: float | None,
                gpu_mib: float | None) -> str | None:
    """Why ``job`` cannot fit a machine of ``host_mib`` (and a GPU of ``gpu_mib``), with what to
    change; None where it fits or the machine is unknown."""
    found = estimate(job, device)
    for where, need, have, part in (
            ("this machine's memory", found.host, host_mib, lambda e: e.host),
            ("the GPU's memory", found.gpu, gpu_mib, lambda e: e.gpu or 0.0)):
        if need is None or have is None or need <= have:
            continue
        return (f"{job.name} needs about {gib(need)} at its peak, more than {where} "
                f"({gib(have)}): {found.describe()}, for {lengths_note(job.lengths)}. To fit, "
                f"change one of: {advice(job, device, part, have)}")
    return None
