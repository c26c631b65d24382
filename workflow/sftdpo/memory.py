"""How much memory a model job takes at its peak, known before it starts.

Snakemake gets the estimate as each model rule's ``mem_mb`` (workflow/rules/common.smk), so
jobs that do not fit in memory together do not start together (``--resources mem_mb=N``; a
local run's limit is the memory free when it starts unless given); a local run's plan refuses
every job that cannot fit the machine (or its GPU), and every model job checks again when it
starts (:func:`check_job`, from :func:`sftdpo.runtime.start_job`), with what to change. A job
the kernel kills for memory anyway is named on the console with the same advice (the
Snakefile's ``onerror``: :func:`killed_jobs_report`, from the line :func:`check_job` writes at
the top of its log).

The estimate, in MiB (2**20 bytes), is the sum of named parts (:class:`Estimate`):

- ``runtime``: the Python process with torch and transformers imported (and PEFT, TRL and
  datasets for training), the tokenizer and the job's data;
- ``weights``: every parameter in the dtype the job computes in (``dtype``, or float32 for
  bfloat16 on a CPU without it: :func:`compute_bytes`, as ``sftdpo.modeling.compute_dtype``);
  NF4 (``quantization: nf4``) keeps the blocks' linear weights in about half a byte each;
  while the model is built the weights file's pages are resident too (the peak of a job whose
  work is small), and on a GPU the model is built in host memory first;
- the stage's work, from the lengths of the job's own data where it exists (the longest items,
  the mean, the start all prompts share: :class:`Lengths`), else items as long as
  ``context_length``:

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

The constants were measured on a CPU (SmolLM2-135M computing in float32, 2 threads, glibc
keeping freed memory: :func:`sftdpo.runtime.keep_freed_memory`): tests/benchmarks/memory.py
prints estimate against measured peak for every model job of a finished run. On a GPU the
same terms are counted in its dtype, plus :data:`CUDA_RESERVE_MIB`; those figures are not
measured yet.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

MIB = 2**20
# Snakemake's mem_mb counts megabytes (10**6 bytes), as SLURM's --mem does.
MB_PER_MIB = MIB / 10**6

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
# Tokens around each chat message (role markers) and the generation prompt, where a prompt's
# length is counted without rendering its chat template (:func:`data_lengths`).
MESSAGE_TOKENS = 6
# The judge's rubric, its system prompt (sftdpo.judge.JUDGE_RUBRIC: about 170 tokens).
JUDGE_RUBRIC_TOKENS = 200
# The longest items' lengths a Lengths keeps (SFT's batches grouped by length).
LONGEST_KEPT = 256

TRAINING_STAGES = ("sft", "sft_matched", "dpo")
# Each model rule's stage.
RULE_STAGES = {"sft": "sft", "sft_candidate": "sft", "sft_matched": "sft_matched",
               "dpo": "dpo", "dpo_candidate": "dpo", "pairs": "pairs", "generate": "generate",
               "validate_candidate": "generate", "judge": "judge"}

# SmolLM2-135M-Instruct, the embedded model (its config.json once materialised): known before
# the model job writes it, so the plan can size its jobs.
EMBEDDED_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
    "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
    "num_key_value_heads": 3, "head_dim": 64, "vocab_size": 49152,
    "tie_word_embeddings": True, "max_position_embeddings": 8192,
}


class MemoryRefusal(RuntimeError):
    """A model job that cannot fit the machine's memory (or its GPU's)."""


# --- the model ------------------------------------------------------------------------------

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def _first(config: Mapping, *keys, default=None):
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a model, read from its Hugging Face config."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocabulary: int
    tied: bool
    experts: int = 1
    # The dtype its weights file holds (the config's torch_dtype); None where unsaid.
    stored: str | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> ModelShape:
        """From a config.json's values (a multimodal model's text config where it has one)."""
        config = config.get("text_config") or config
        hidden = int(_first(config, "hidden_size", "n_embd", "d_model"))
        heads = int(_first(config, "num_attention_heads", "n_head", "num_heads"))
        return cls(
            hidden=hidden,
            intermediate=int(_first(config, "intermediate_size", "n_inner", "ffn_dim",
                                    default=4 * hidden)),
            layers=int(_first(config, "num_hidden_layers", "n_layer", "num_layers")),
            heads=heads,
            kv_heads=int(_first(config, "num_key_value_heads", default=heads)),
            head_dim=int(_first(config, "head_dim", default=hidden // heads)),
            vocabulary=int(_first(config, "vocab_size")),
            tied=bool(config.get("tie_word_embeddings", True)),
            experts=int(_first(config, "num_local_experts", "num_experts", default=1)),
            stored=_first(config, "torch_dtype", "dtype"),
        )

    @property
    def block_linear_parameters(self) -> int:
        """One block's linear weights: attention projections and the gated MLP."""
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        return attention + 3 * self.hidden * self.intermediate * self.experts

    @property
    def embedding_parameters(self) -> int:
        """Input embeddings, and the output head where it is not tied to them."""
        return self.vocabulary * self.hidden * (1 if self.tied else 2)

    @property
    def parameters(self) -> int:
        norms = (2 * self.layers + 1) * self.hidden
        return self.layers * self.block_linear_parameters + self.embedding_parameters + norms


def model_config(spec: Mapping, folder: str | Path | None = None) -> dict | None:
    """The model's config: its materialised folder's config.json where it exists, else the
    embedded model's, a local folder's, or a hub model's from the hub cache (offline; None
    until it is downloaded)."""
    candidates = [Path(folder) / "config.json"] if folder else []
    if spec.get("source") == "embedded":
        found = [c for c in candidates if c.is_file()]
        return _json(found[0]) if found else dict(EMBEDDED_CONFIG)
    if spec.get("source") == "local" and spec.get("path"):
        candidates.append(Path(spec["path"]).expanduser() / "config.json")
    for candidate in candidates:
        if candidate.is_file():
            return _json(candidate)
    if spec.get("source") == "hub":
        return _hub_cached_config(spec["hub_id"], spec.get("revision"))
    return None


def _json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _hub_cached_config(hub_id: str, revision: str | None) -> dict | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    path = try_to_load_from_cache(hub_id, "config.json", revision=revision)
    return _json(Path(path)) if isinstance(path, str) else None


def shape_of(config: Mapping | None) -> ModelShape | None:
    """The shape of a config, or None where it lacks what the estimate needs."""
    if not config:
        return None
    try:
        return ModelShape.from_config(config)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


# --- the machine ----------------------------------------------------------------------------

# Environment variables that stand for the machine's memory (MB): a smaller machine than this
# one, in tests; or the real limit where the job's cgroup does not show it; 0 for the host:
# not checked (a machine that plans for others).
HOST_MEMORY_ENV = "SFTDPO_HOST_MEMORY_MB"
GPU_MEMORY_ENV = "SFTDPO_GPU_MEMORY_MB"


@lru_cache(maxsize=1)
def cpu_native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), by /proc/cpuinfo:
    the same test as ``sftdpo.modeling.native_bfloat16``, without importing torch; True where
    the flags cannot be read (as there)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    if "flags" not in flags:
        return True
    return bool(re.search(r"\b(avx512_bf16|amx_tile)\b", flags))


def compute_bytes(dtype: str, device: str) -> int:
    """Bytes per element the model computes in: the entry's dtype, float32 for bfloat16 on a
    CPU without it (``sftdpo.modeling.compute_dtype``)."""
    if dtype == "bfloat16" and device == "cpu" and not cpu_native_bfloat16():
        return 4
    return DTYPE_BYTES.get(dtype, 4)


def _meminfo(key: str) -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024 / MIB
    except OSError:
        return None
    return None


def _cgroup_limit_mib() -> float | None:
    """This process's cgroup v2 memory limit (a SLURM job's --mem), None where unlimited."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                value = (Path("/sys/fs/cgroup") / line[3:].lstrip("/") / "memory.max").read_text()
                return None if value.strip() == "max" else int(value) / MIB
    except (OSError, ValueError):
        return None
    return None


def host_memory_mib() -> float | None:
    """The memory a job on this machine may use: ``$SFTDPO_HOST_MEMORY_MB`` where set (0: not
    checked, None), else the smaller of the machine's (MemTotal) and this process's cgroup
    limit."""
    if os.environ.get(HOST_MEMORY_ENV):
        return float(os.environ[HOST_MEMORY_ENV]) / MB_PER_MIB or None
    limits = [m for m in (_meminfo("MemTotal"), _cgroup_limit_mib()) if m]
    return min(limits) if limits else None


def host_available_mib() -> float | None:
    """The memory free for new jobs now (MemAvailable; ``$SFTDPO_HOST_MEMORY_MB`` where set)."""
    if float(os.environ.get(HOST_MEMORY_ENV) or 0):
        return float(os.environ[HOST_MEMORY_ENV]) / MB_PER_MIB
    return _meminfo("MemAvailable")


def nvml_gpu_memory_mib() -> float | None:
    """The smallest total memory of this machine's visible NVIDIA GPUs, by NVML without
    initialising CUDA (``$SFTDPO_GPU_MEMORY_MB`` where set); None without a GPU."""
    if os.environ.get(GPU_MEMORY_ENV):
        return float(os.environ[GPU_MEMORY_ENV]) / MB_PER_MIB
    import ctypes

    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    if nvml.nvmlInit_v2() != 0:
        return None

    class Memory(ctypes.Structure):
        _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                    ("used", ctypes.c_ulonglong)]

    try:
        count = ctypes.c_uint(0)
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return None
        totals = []
        for index in range(count.value):
            handle, memory = ctypes.c_void_p(), Memory()
            if (nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) == 0
                    and nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) == 0):
                totals.append(memory.total / MIB)
        return min(totals) if totals else None
    finally:
        nvml.nvmlShutdown()


# --- the data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lengths:
    """The token counts a job's memory grows with: its longest prompt and answer (a batch
    pads to its longest row), their means (the other rows of a batch drawn at random), the
    start every prompt shares (the task's system turn: packed rows run it once), the longest
    items' lengths, and for likelihood scoring the widest row of candidate answers.
    ``measured``: counted in the job's data; else bounds from the config (``context_length``
    and the answer budget), which the data can only stay under."""

    prompt: int
    answer: int
    prompt_mean: float | None = None
    answer_mean: float | None = None
    shared: int = 0
    scored: int = 0
    measured: bool = False
    # The longest items' prompt and answer tokens together, longest first (up to
    # LONGEST_KEPT): SFT's batches grouped by length put the longest together.
    longest: tuple[int, ...] = ()

    @property
    def sequence(self) -> int:
        return self.prompt + self.answer

    @property
    def mean_prompt(self) -> float:
        return self.prompt if self.prompt_mean is None else self.prompt_mean

    @property
    def mean_answer(self) -> float:
        return self.answer if self.answer_mean is None else self.answer_mean


def bound_lengths(context_length: int, answer_budget: int, candidates: int = 0) -> Lengths:
    """Items as long as the context allows: the answer budget, the prompt the rest; likelihood
    scoring of ``candidates`` answers of up to the budget each."""
    answer = min(answer_budget, context_length)
    return Lengths(prompt=max(1, context_length - answer), answer=answer,
                   scored=candidates * answer)


@lru_cache(maxsize=8)
def _tokenizer(path: str, mtime: float):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def token_counter(model_dir: str | Path | None) -> Callable[[str], int]:
    """Counts a text's tokens with the model's fast tokenizer (tokenizer.json, read by the
    ``tokenizers`` library alone: no transformers import); about 3.5 characters a token where
    the folder has none."""
    path = Path(model_dir) / "tokenizer.json" if model_dir else None
    if path is not None and path.is_file():
        tokenizer = _tokenizer(str(path), path.stat().st_mtime)
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
    return lambda text: math.ceil(len(text) / 3.5)


def prompt_text(messages: Iterable[Mapping]) -> str:
    """A chat prompt as one text, each message after its role: what its tokens are counted on
    (:func:`prompt_tokens`), without rendering the model's chat template."""
    return "".join(f"{m.get('role', '')}\n{m.get('content', '')}\n" for m in messages)


def prompt_tokens(count: Callable[[str], int], messages: list[Mapping]) -> int:
    """A chat prompt's tokens: its messages' and the chat template's markers around each."""
    return sum(count(str(m.get("content", ""))) + MESSAGE_TOKENS for m in messages) + 3


def _shared_tokens(count: Callable[[str], int], texts: list[str]) -> int:
    """Tokens of the start every prompt shares (cut back to a word), with the chat template's
    markers before it."""
    if len(texts) < 2:
        return 0
    shared = os.path.commonprefix(texts)
    shared = shared[: shared.rfind(" ") + 1] if " " in shared else ""
    return count(shared) + MESSAGE_TOKENS if shared else 0


def _read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _lengths(prompts: list[int], answers: list[int], shared: int, scored: int = 0) -> Lengths:
    if not prompts:
        return Lengths(prompt=1, answer=1, measured=True)
    longest = sorted((p + a for p, a in zip(prompts, answers, strict=True)), reverse=True)
    return Lengths(prompt=max(prompts), answer=max(answers),
                   prompt_mean=sum(prompts) / len(prompts),
                   answer_mean=sum(answers) / len(answers),
                   shared=shared, scored=scored, measured=True,
                   longest=tuple(longest[:LONGEST_KEPT]))


def item_lengths(task, items: list[Mapping], count: Callable[[str], int],
                 candidates: bool = False) -> Lengths:
    """The :class:`Lengths` of a split's ``items`` of ``task``: prompts, reference answers
    (the completion SFT teaches), and with ``candidates`` the widest row of candidate answers
    (every candidate's assistant text after the prompt, as likelihood scoring runs them)."""
    prompts, answers, texts, scored = [], [], [], 0
    for item in items:
        messages = task.prompt_messages(item)
        prompts.append(prompt_tokens(count, messages))
        texts.append(prompt_text(messages))
        answers.append(count(task.completion(item)) + 2)
        if candidates:
            scored = max(scored, sum(count(task.answer_text(item, option)) + 2
                                     for option in task.candidates(item) or []))
    return _lengths(prompts, answers, _shared_tokens(count, texts), scored)


def pair_lengths(pairs: list[Mapping], count: Callable[[str], int]) -> Lengths:
    """The :class:`Lengths` of DPO's pairs: prompts, and the longer answer of each pair."""
    prompts = [prompt_tokens(count, pair["prompt"]) for pair in pairs]
    answers = [max(count(str(pair[side])) + 2 for side in ("chosen", "rejected"))
               for pair in pairs]
    shared = _shared_tokens(count, [prompt_text(pair["prompt"]) for pair in pairs])
    return _lengths(prompts, answers, shared)


_LENGTHS_CACHE: dict[tuple, Lengths] = {}


def data_lengths(kind: str, path: str | Path, model_dir: str | Path | None,
                 task=None, candidates: bool = False) -> Lengths:
    """The :class:`Lengths` of a split file (``kind`` "items": a task's items) or a pairs file
    (``kind`` "pairs"), counted with the model's tokenizer; remembered per file version."""
    path = Path(path)
    key = (kind, str(path.resolve()), path.stat().st_mtime_ns, str(model_dir),
           getattr(task, "name", None), repr(getattr(task, "labels", None)), candidates)
    if key not in _LENGTHS_CACHE:
        count = token_counter(model_dir)
        rows = _read_jsonl(path)
        _LENGTHS_CACHE[key] = (pair_lengths(rows, count) if kind == "pairs"
                               else item_lengths(task, rows, count, candidates))
    return _LENGTHS_CACHE[key]


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
    per prompt; ``scores``: the job ranks candidate answers by their likelihood."""

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
    # The config section whose keys change it, for the advice (:func:`advice`).
    settings_key: str = ""


@dataclass
class Estimate:
    """A job's peak, in MiB: host memory, and GPU memory where it runs on one; by part."""

    host: float
    gpu: float | None
    parts: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def mem_mb(self) -> int:
        """The host memory in Snakemake's (and SLURM's) megabytes, rounded up."""
        return math.ceil(self.host * MB_PER_MIB)

    def describe(self) -> str:
        main = f"{gib(self.host)} of memory" + (
            f" and {gib(self.gpu)} on the GPU" if self.gpu is not None else "")
        parts = ", ".join(f"{name} {gib(value)}" for name, value in self.parts.items()
                          if value >= 1)
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
    if device == "cpu":
        parts = {"runtime": runtime, "weights": weights, **work}
        # The file's pages are resident while the model is built, before any of the work.
        return Estimate(host=max(sum(parts.values()), runtime + weights + loading),
                        gpu=None, parts=parts, device=device)
    # On a GPU the model is built in host memory in its dtype (NF4: straight onto the GPU),
    # then moved.
    host_weights = weights if job.quantization == "none" else 0.0
    gpu_parts = {"weights": weights, **work, "CUDA": CUDA_RESERVE_MIB}
    return Estimate(host=CUDA_RUNTIME_MIB + host_weights + loading, gpu=sum(gpu_parts.values()),
                    parts=gpu_parts, device=device)


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


# --- from a rule's settings -----------------------------------------------------------------


def rule_job(rule: str, *, name: str, config: Mapping | None, spec: Mapping,
             lengths: Lengths, settings: Mapping | None = None, lora: Mapping | None = None,
             batch_size: int | None = None, new_tokens: int = 0, scores: bool = False,
             second_model: bool = False) -> Job | None:
    """The :class:`Job` of a job of model rule ``rule`` (its model's ``config`` and entry
    ``spec``), from the config sections it reads: ``settings`` its training stage's section,
    ``lora`` the lora section, ``batch_size`` the answering batch (generation's or the
    judge's). None where the model's config is unknown or lacks what the estimate needs."""
    shape = shape_of(config)
    if shape is None:
        return None
    stage = RULE_STAGES[rule]
    common = {"stage": stage, "shape": shape, "dtype": spec.get("dtype") or "bfloat16",
              "quantization": spec.get("quantization") or "none",
              "attention": spec.get("attention") or "sdpa", "lengths": lengths, "name": name}
    if stage in TRAINING_STAGES:
        settings = settings or {}
        return Job(**common, batch_size=int(settings.get("batch_size", 8)),
                   adapted_layers=(lora or {}).get("top_layers"),
                   gradient_checkpointing=bool(settings.get("gradient_checkpointing", False)),
                   share_prompt=bool(settings.get("share_prompt", True)),
                   group_by_length=bool(settings.get("group_by_length", True)),
                   settings_key="dpo" if stage == "dpo" else "sft")
    return Job(**common, batch_size=int(batch_size or 16), new_tokens=new_tokens,
               scores=scores, second_model=second_model,
               settings_key="judge" if stage == "judge" else "generation")


def _task(name: str, spec: Mapping, meta: str | Path | None):
    """The task of a config entry: with its data's labels where the data job wrote them."""
    from .tasks import load_task, load_task_with_meta, task_class

    if meta and Path(meta).is_file():
        try:
            return load_task_with_meta(name, dict(spec), str(meta))
        except (OSError, ValueError, KeyError):  # not written by the data job (yet)
            pass
    if "data" not in spec:
        return load_task(name, dict(spec))
    return task_class(name, dict(spec))


def _counted(kind: str, path, model_dir, task=None, candidates: bool = False) -> Lengths | None:
    """:func:`data_lengths`, or None where the file is not a finished job's (empty, or not
    the task's items): the estimate then takes the bounds."""
    try:
        found = data_lengths(kind, path, model_dir, task, candidates)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return found if found.longest else None


def config_job(rule: str, config: Mapping, wildcards: Mapping, model_dir: str | Path | None = None,
               files: Mapping[str, str | Path] | None = None) -> Job | None:
    """The :class:`Job` of a job of model rule ``rule`` with ``wildcards`` (model, task; the
    judge's model is the config's), from the workflow's ``config`` (its defaults filled in)
    and what exists of its inputs: ``model_dir`` the materialised model, ``files`` its data
    ("items": the split it reads, "pairs": DPO's pairs, "meta": the task's meta.json). Where
    a file is not there yet, items as long as ``context_length`` (:func:`bound_lengths`).
    None where the model's config is not known yet (a hub model not downloaded)."""
    from .config import JUDGE_MODEL_NAME, task_model_spec
    from .metrics import generates, ranks
    from .tasks import answer_tokens, pair_strategy

    files = {key: value for key, value in (files or {}).items()
             if value and Path(value).is_file()}
    stage = RULE_STAGES[rule]
    task_name = wildcards["task"]
    task_spec = config["tasks"][task_name]
    if stage == "judge":
        judge = config["judge"]
        model = judge["model"] if isinstance(judge["model"], str) else JUDGE_MODEL_NAME
        spec = (config["models"][model] if isinstance(judge["model"], str) else judge["model"])
    else:
        model = wildcards["model"]
        spec = task_model_spec(config["models"][model], task_spec)
    model_dir = model_dir if model_dir and Path(model_dir).is_dir() else None
    model_config_ = model_config(spec, model_dir)
    task = _task(task_name, task_spec, files.get("meta"))
    budget = answer_tokens(task, task_spec)
    context_length = config["context_length"]
    name = f"{rule} of {model}, task {task_name}" + (
        f", seed {wildcards['seed']}" if wildcards.get("seed") is not None else "") + (
        f", method {wildcards['method']}" if wildcards.get("method") else "") + (
        f", candidate {wildcards['candidate']}" if wildcards.get("candidate") else "")
    common = {"name": name, "config": model_config_, "spec": spec}
    mode = config["evaluation"]["mode"]
    kind = task.kind
    if stage in TRAINING_STAGES:
        section = config["dpo" if stage == "dpo" else "sft"]
        source = "pairs" if stage == "dpo" else "items"
        counted = (_counted(source, files[source], model_dir, task if source == "items" else None)
                   if source in files else None)
        lengths = counted or bound_lengths(context_length, budget)
        return rule_job(rule, **common, lengths=lengths, settings=section, lora=config["lora"])
    candidates = len(getattr(task, "labels", ()) or ()) or 4
    if stage == "pairs":
        strategy = pair_strategy(task, task_spec)
        summary = kind == "summary"
        scores = True
        # Summaries: the degradations' pairs scored chosen and rejected; the base summaries
        # generated by a second model where base_summary is tried; sft_wrong_answers generates.
        base_summary = "base_summary" in task_spec.get("pairs", {}).get("degradations", ())
        second = summary and strategy in ("degraded_summary", "sft_wrong_answers") and base_summary
        new_tokens = budget if strategy == "sft_wrong_answers" or second else 0
        with_candidates = not summary and strategy != "user_pairs"
        counted = ("items" in files
                   and _counted("items", files["items"], model_dir, task, with_candidates))
        lengths = counted or bound_lengths(context_length, budget,
                                           candidates if with_candidates else 0)
        if not with_candidates:  # both answers of a pair after its prompt
            lengths = replace(lengths, scored=2 * lengths.answer)
        return rule_job(rule, **common, lengths=lengths, batch_size=config["generation"][
            "batch_size"], new_tokens=new_tokens, scores=scores, second_model=second)
    scores, generated = ranks(kind, mode), generates(kind, mode)
    counted = "items" in files and _counted("items", files["items"], model_dir, task, scores)
    lengths = counted or bound_lengths(context_length, budget, candidates if scores else 0)
    if stage == "judge":
        lengths = replace(lengths, prompt=lengths.prompt + JUDGE_RUBRIC_TOKENS + budget,
                          prompt_mean=None)
        return rule_job(rule, **common, lengths=lengths, batch_size=config["judge"]["batch_size"],
                        new_tokens=config["judge"]["max_new_tokens"])
    return rule_job(rule, **common, lengths=lengths, batch_size=config["generation"]["batch_size"],
                    new_tokens=budget if generated else 0, scores=scores)


# --- a job's start, and its end by the kernel -------------------------------------------------

# The line every model job writes at the top of its log (:func:`check_job`), which the
# Snakefile's onerror handler reads back for a job the kernel killed (:func:`killed_jobs_report`).
NOTE_PREFIX = "sftdpo memory:"
KILLED = re.compile(r"died with <Signals\.SIGKILL: 9>")


def check_job(sm, device: str, host_mib: float | None = None,
              gpu_mib: float | None = None) -> Estimate | None:
    """At a model job's start (``sm``: its Snakemake object): estimate its peak on ``device``
    from its own data, write it with what to change at the top of its log (stdout), and
    raise :class:`MemoryRefusal` where it cannot fit this machine (``host_mib``, default
    :func:`host_memory_mib`: the machine's or the job's cgroup's limit) or its GPU
    (``gpu_mib``). None where the job is not a model rule's or its model's config is unknown."""
    if getattr(sm, "rule", None) not in RULE_STAGES or getattr(sm, "config", None) is None:
        return None  # not a model rule's job (a benchmark's or a test's stand-in)
    files = {"items": sm.input.get("train") or sm.input.get("evaluated"),
             "pairs": sm.input.get("pairs"), "meta": sm.input.get("meta")}
    model_dir = sm.input.get("model") or sm.input.get("judge_model")
    job = config_job(sm.rule, sm.config, dict(sm.wildcards.items()), model_dir, files)
    if job is None:
        return None
    host_mib = host_memory_mib() if host_mib is None else host_mib
    found = estimate(job, device)
    part = (lambda e: e.gpu or 0.0) if device == "cuda" else (lambda e: e.host)
    have = gpu_mib if device == "cuda" else host_mib
    machine = (f"this machine {gib(host_mib)}" if host_mib else "this machine's memory unknown") + (
        f", its GPU {gib(gpu_mib)}" if gpu_mib else "")
    print(f"{NOTE_PREFIX} {job.name}: estimated peak {found.describe()}, for "
          f"{lengths_note(job.lengths)}; {machine}. Were it to run out of memory, change one "
          f"of: {advice(job, device, part, have or float('inf'))}", flush=True)
    problem = fit_problem(job, device, host_mib, gpu_mib)
    if problem:
        raise MemoryRefusal(f"refused before it starts: {problem}")
    return found


def killed_jobs_report(snakemake_logs: Iterable[str | Path]) -> str:
    """For each job of a failed run that the kernel killed (Snakemake's "died with
    <Signals.SIGKILL: 9>" in its log ``snakemake_logs``): that it was killed, most likely
    for memory, with the estimate and the advice its own log's first line gives
    (:func:`check_job`). Empty where no job was killed."""
    reports = []
    for path in snakemake_logs:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for index, line in enumerate(lines):
            if not KILLED.search(line):
                continue
            # The job's error block follows its exception: its rule and log file.
            rule, job_logs = None, []
            for later in lines[index + 1:]:
                if rule is None and (match := re.match(r"Error in rule (\S+):", later)):
                    rule = match.group(1)
                elif rule is not None and (match := re.match(r"\s+log: (.*?)(?: \(check|$)",
                                                              later)):
                    job_logs = [p.strip() for p in match.group(1).split(",")]
                    break
                elif rule is not None and not later.startswith((" ", "\t")):
                    break
            notes = []
            for job_log in job_logs:
                try:
                    notes += [n for n in Path(job_log).read_text(
                        encoding="utf-8", errors="replace").splitlines()
                              if n.startswith(NOTE_PREFIX)]
                except OSError:
                    pass
            where = f" (log: {', '.join(job_logs)})" if job_logs else ""
            text = (f"The kernel killed a job of rule {rule or '?'}{where} (SIGKILL): most likely "
                    "it ran out of memory (the kernel's log says so: dmesg, 'Out of memory').")
            if notes:
                text += " " + notes[0].removeprefix(NOTE_PREFIX).strip()
            else:
                text += (" To make it smaller: a smaller batch_size (with "
                         "gradient_accumulation_steps for training), a shorter context_length, "
                         "or quantization: nf4.")
            reports.append(text)
    return "\n".join(dict.fromkeys(reports))
