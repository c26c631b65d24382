"""What every job script does first: send its output to the rule's log, seed, size threads;
a model job also leases its GPU and starts its compute meter (:func:`start_job`)."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack

from .compute import JobMeter
from .gpu import gpu_lease

# The job's GPU lease, held until the process ends; the kernel drops the lock then, even when
# the process is killed.
_JOB_LEASE = ExitStack()


def redirect_output(log_path: str) -> None:
    """Point this process's stdout and stderr (C level too) at the rule's log file."""
    log = open(log_path, "w", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives with the job
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log


def prepare_torch(threads: int, seed: int) -> None:
    import torch
    from transformers import set_seed

    torch.set_num_threads(max(1, threads))
    # Subnormal floats are flushed to zero: on x86 CPUs they take a slow path (measured apart:
    # likelihood scoring of 64 provider-triage items by the base model, 1 thread, 5.0 to 8.7
    # items/s).
    torch.set_flush_denormal(True)
    set_seed(seed)


def skip_bitsandbytes() -> None:
    """Keep bitsandbytes out of a job whose model is not quantised.

    PEFT and transformers import it whenever it is installed (about 2 s here, pulling in
    torch._inductor, and a "Failed to load CPU gemm_4bit_forward" line in every log). A
    ``None`` entry in ``sys.modules`` is Python's documented way to make an import fail: both
    libraries then see the package as absent (``importlib.util.find_spec`` returns None). It
    only works before transformers is first imported, which caches what is available (a job
    script calls it first; in a process that already imported transformers it changes nothing).
    """
    if "transformers" not in sys.modules:
        sys.modules.setdefault("bitsandbytes", None)


def start_job(sm, spec: dict) -> JobMeter:
    """Start a job that runs the model of config entry ``spec``: log, bitsandbytes kept out
    unless the model is quantised, the GPUs of its ``resources: gpu=N`` leased (before
    anything initialises CUDA, which reads ``CUDA_VISIBLE_DEVICES`` once), threads and seed.
    Returns the job's meter, whose clock starts now that the GPU is held."""
    from .modeling import resolve_device

    redirect_output(sm.log[0])
    if spec.get("quantization", "none") == "none":
        skip_bitsandbytes()
    _JOB_LEASE.enter_context(gpu_lease(int(sm.resources.get("gpu", 0))))
    prepare_torch(sm.threads, sm.params.seed)
    return JobMeter(resolve_device())
