"""One training job on several processes (GPUs): its script run again under ``accelerate launch``.

A training stage's ``processes`` (default 1) is how many processes train its model together,
one per GPU: DDP by default (a copy of the model on each GPU, gradients averaged), or what an
accelerate config file names (``accelerate_config``: FSDP, DeepSpeed ZeRO). With 1 process and
no accelerate config nothing of this module runs: the job trains in the process Snakemake
started, as it always has.

Otherwise the job's process (:func:`sftdpo.runtime.start_job`) leases the job's GPUs, checks its
memory, and runs the rule's script again, the same file with the same Snakemake object, under
``accelerate launch`` with that many processes (:func:`run_workers`), waits for them and ends
with their status: a job fails when any process fails. Each process knows it is one
(:func:`worker`): it starts without a lease or a log of its own (the job's log is its
standard output and error), trains its share of every batch, and the first process
(:func:`is_main_process`) alone writes the outputs, once every process's counts are summed
(:func:`gather`). On a CPU the processes talk over gloo (accelerate's MULTI_CPU), on GPUs over
NCCL; a free local port is picked for them (``--main_process_port 0``). One machine only.

A stage's batch is per process: an optimiser step takes ``batch_size x
gradient_accumulation_steps x processes`` examples, and a run of N processes makes 1/N of the
steps of one process with the same settings. For the same global batch and seed every process
draws the same data order, as one process would, and takes its share of each batch
(tests/test_launch.py compares the adapters of 1 and 2 processes).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

# Set in every process run_workers starts: what they share with the job's process.
WORKER_ENV = "SFTDPO_WORKER"
# accelerate's environment in the processes it starts under FSDP or DeepSpeed.
SHARDING_ENV = ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED")
# The config sections a training job's settings hold its stage's in (the matched control's
# is sft's).
TRAINING_SECTIONS = ("sft", "dpo")


class Launch(NamedTuple):
    """How a job runs: ``processes`` processes, under ``accelerate_config`` (a file) or DDP."""

    processes: int = 1
    accelerate_config: str | None = None

    @property
    def distributed(self) -> bool:
        """Whether the job runs under accelerate launch rather than in its own process."""
        return self.processes > 1 or self.accelerate_config is not None


class WorkerFailure(RuntimeError):
    """A process of a job run under accelerate launch failed."""


def stage_launch(section: Mapping) -> Launch:
    """The :class:`Launch` of a training stage's config section."""
    return Launch(int(section.get("processes") or 1), section.get("accelerate_config") or None)


def job_launch(params) -> Launch:
    """The :class:`Launch` of a job from its rule's params: its training stage's section of
    ``settings`` (sftdpo.rules' training_settings), or one process where it has none (every job
    that only runs the model)."""
    settings = getattr(params, "settings", None) or {}
    section = next((settings[name] for name in TRAINING_SECTIONS if name in settings), {})
    return stage_launch(section)


def accelerate_command(launch: Launch, script: str | Path) -> list[str]:
    """``accelerate launch`` of ``script`` with the job's processes, on this machine's Python.

    DDP unless an accelerate config file is named; the file's process count, GPU ids and port
    are overridden (the stage's ``processes`` decides, the GPUs are the job's lease, the port
    a free one), and its mixed precision too: the stage's ``mixed_precision`` decides, through
    the trainer's ``bf16``."""
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if launch.accelerate_config is not None:
        command += ["--config_file", str(launch.accelerate_config)]
    else:
        # torchrun's launcher: one process per GPU; on a CPU the processes use gloo.
        command += ["--multi_gpu"]
    return [*command, "--num_processes", str(launch.processes), "--num_machines", "1",
            "--machine_rank", "0", "--gpu_ids", "all", "--main_process_port", "0",
            "--mixed_precision", "no", "--dynamo_backend", "no", str(script)]


def _die_with_parent() -> None:
    """In the launcher's process (Linux): a SIGTERM when the job's process dies, so a job
    killed by Snakemake or SLURM takes its processes with it (torchrun ends them on SIGTERM)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_workers(launch: Launch, script: str | Path, threads: int, started: float,
                environ: Mapping[str, str] | None = None) -> None:
    """Run ``script`` on ``launch.processes`` processes under accelerate launch and wait;
    :class:`WorkerFailure` where any of them failed. ``threads``: each process's torch
    threads; ``started``: the job's start (``time.time()``), from which its processes count
    its wall time. Their output goes where this process's does (the job's log)."""
    settings = {"processes": launch.processes, "threads": max(1, threads), "started": started}
    env = {**(os.environ if environ is None else environ), WORKER_ENV: json.dumps(settings)}
    command = accelerate_command(launch, script)
    how = (f"accelerate config {launch.accelerate_config}" if launch.accelerate_config
           else "DDP")
    print(f"training on {launch.processes} processes ({how}): {' '.join(command)}", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    status = subprocess.run(command, env=env, preexec_fn=_die_with_parent).returncode
    if status != 0:
        raise WorkerFailure(
            f"training on {launch.processes} processes under accelerate launch failed (exit "
            f"status {status}); each failed process's error is above in this log")


def worker() -> dict | None:
    """In a process :func:`run_workers` started: its settings (``processes``, ``threads``,
    ``started``); None in any other process."""
    text = os.environ.get(WORKER_ENV)
    if not text or "LOCAL_RANK" not in os.environ:
        return None
    return json.loads(text)


def rank() -> int:
    """This process's rank among the job's processes (0 outside a distributed job)."""
    return int(os.environ.get("RANK", 0)) if worker() is not None else 0


def local_rank() -> int:
    """This process's GPU among the job's (its index in ``CUDA_VISIBLE_DEVICES``)."""
    return int(os.environ.get("LOCAL_RANK", 0)) if worker() is not None else 0


def is_main_process() -> bool:
    """Whether this process writes the job's outputs: the job's own, or a job's first."""
    return rank() == 0


def sharded() -> bool:
    """Whether the job's processes shard the model (accelerate's FSDP or DeepSpeed): then a
    process loads it without placing it on its GPU, and accelerate places its shards."""
    return worker() is not None and any(
        os.environ.get(name, "").lower() in ("true", "1") for name in SHARDING_ENV)


def gather(value) -> list:
    """Every process's ``value`` (picklable), in rank order, in every process; ``[value]``
    outside a distributed job. Every process of the job must call it."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [value]
    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


# --- planning -------------------------------------------------------------------------------


def read_accelerate_config(path: str | Path) -> dict:
    """An accelerate config file (YAML or JSON) as a mapping."""
    import yaml

    with open(path, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle) if str(path).endswith((".yaml", ".yml")) \
            else json.load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: not a mapping of accelerate's settings")
    return loaded


def shards_weights(path: str | Path | None) -> bool:
    """Whether the accelerate config file at ``path`` shards the model's weights over the
    processes: FSDP, or DeepSpeed ZeRO stage 3 (False for None: DDP)."""
    if path is None:
        return False
    settings = read_accelerate_config(path)
    kind = str(settings.get("distributed_type", "")).upper()
    if kind == "FSDP":
        return True
    return kind == "DEEPSPEED" and int(
        (settings.get("deepspeed_config") or {}).get("zero_stage", 0) or 0) == 3


def launch_problems(config: Mapping) -> list[str]:
    """What a config's multi-process settings get wrong, by key (the schema's defaults filled
    in): an accelerate config that cannot be read or names no distributed type, and, where a
    stage shards a QLoRA model with FSDP, a 4-bit storage dtype other than the model's dtype
    (FSDP shards float tensors of one dtype: bitsandbytes' ``bnb_4bit_quant_storage`` must
    be the model's ``dtype``, as PEFT's "FSDP with QLoRA" says)."""
    problems = []
    for name in TRAINING_SECTIONS:
        path = (config.get(name) or {}).get("accelerate_config")
        if not path:
            continue
        key = f"{name}.accelerate_config"
        try:
            settings = read_accelerate_config(path)
        except (OSError, ValueError) as error:
            problems.append(f"{key}: {path} cannot be read ({error}); it is an accelerate "
                            "config file (`accelerate config` writes one), relative to the "
                            "folder Snakemake runs in")
            continue
        kind = str(settings.get("distributed_type", "")).upper()
        if kind not in ("MULTI_GPU", "FSDP", "DEEPSPEED", "MULTI_CPU", "NO"):
            problems.append(f"{key}: {path} names no distributed_type this workflow runs "
                            f"(found {settings.get('distributed_type')!r}; allowed: MULTI_GPU, "
                            "FSDP, DEEPSPEED)")
            continue
        if kind != "FSDP":
            continue
        for model, spec in (config.get("models") or {}).items():
            if spec.get("quantization", "none") == "none":
                continue
            storage = (spec.get("bitsandbytes") or {}).get("bnb_4bit_quant_storage")
            dtype = spec.get("dtype") or "bfloat16"
            if storage != dtype:
                problems.append(
                    f"models.{model}.bitsandbytes.bnb_4bit_quant_storage: {storage!r} with "
                    f"{key} sharding a 4-bit model by FSDP; it must be the model's dtype "
                    f"({dtype!r}: FSDP shards float tensors of one dtype)")
    return list(dict.fromkeys(problems))
