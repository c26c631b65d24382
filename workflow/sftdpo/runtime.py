"""What every job script does first: send its output to the rule's log, seed, size threads;
a model job also leases its GPUs and starts its compute meter (:func:`start_job`); a training
job of several processes runs its script again under accelerate launch (:mod:`sftdpo.launch`)."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import resource
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .gpu import gpu_lease
from .launch import job_launch, run_workers, worker

# mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
# The largest value mallopt takes (a C int): 2 GiB.
MALLOPT_MAX = 2**31 - 1

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


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep the memory a job frees for its next tensors instead of handing
    it back to the kernel; True where it took effect (glibc), False elsewhere (nothing done).

    By default glibc serves a block above its mmap threshold (which it raises as such blocks
    are freed, but never past 32 MiB) with a fresh mapping and unmaps it when freed, and
    trims the heap's free top. Every training step's large tensors (an eager attention map
    of 8 summaries is 72 MB) then come from pages the kernel must fault in and zero again:
    on this project's 2-core VM a third of a summaries SFT epoch's CPU time. PyTorch's CPU
    performance guides advise preloading jemalloc or tcmalloc for the same reason; this is
    glibc's own switch, from inside the job. The cost: the job keeps its peak heap until it
    ends. Figures: tests/benchmarks/throughput.py, memory; docs/benchmarks.md, "Speed on a CPU".
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the C library this interpreter runs on
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MALLOPT_MAX)
                and libc.mallopt(M_TRIM_THRESHOLD, MALLOPT_MAX))


def start_job(sm, spec: dict) -> JobMeter:
    """Start a job that runs the model of config entry ``spec``: log, bitsandbytes kept out
    unless the model is quantised, the GPUs of its ``resources: gpu=N`` leased (before
    anything initialises CUDA, which reads ``CUDA_VISIBLE_DEVICES`` once), threads and seed,
    and its memory checked (:func:`check_memory`: refused where it cannot fit). Returns the
    job's meter, whose clock starts now that the GPU is held and the job admitted.

    A training job of several processes (its stage's ``processes``, or an
    ``accelerate_config``: :mod:`sftdpo.launch`) does not return here: once its GPUs are
    leased and its memory checked, its script runs again under accelerate launch, once per
    process, and this process ends with their status (``SystemExit``). In each of those
    processes this returns the process's meter (:func:`start_worker`), and the script goes on
    there.

    Python's cyclic garbage collector is off from here to the compute section
    (:meth:`JobMeter.measure`): importing transformers, PEFT and TRL after torch creates
    objects by the million, and each full collection on the way scans them all: about a
    second off the first training step and half a second off the first answer
    (tests/benchmarks/throughput.py, start-up; the figures: docs/benchmarks.md, "Speed on a CPU").
    Freed memory stays with the job (:func:`keep_freed_memory`)."""
    from .modeling import resolve_device

    launch = job_launch(sm.params)
    if worker() is not None:
        return start_worker(sm, spec)
    started = time.time()
    gc.disable()
    keep_freed_memory()
    redirect_output(sm.log[0])
    if spec.get("quantization", "none") == "none":
        skip_bitsandbytes()
    leased = _JOB_LEASE.enter_context(gpu_lease(int(sm.resources.get("gpu", 0))))
    if not launch.distributed:
        prepare_torch(sm.threads, sm.params.seed)
        device = resolve_device()
        check_memory(sm, device)
        return JobMeter(device)
    # The processes' job: checked here, before any of them starts; torch asks CUDA only how
    # many GPUs there are (no context on them), the GPUs' memory comes from NVML.
    device = resolve_device()
    check_processes(launch.processes, device, leased)
    check_memory(sm, device, gpu_mib=gpu_memory_mib(nvml=True) if device == "cuda" else None)
    run_workers(launch, os.path.abspath(sys.argv[0]), threads=sm.threads // launch.processes,
                started=started)
    sys.exit(0)


def check_processes(processes: int, device: str, leased: list[str]) -> None:
    """Refuse a job of ``processes`` processes on GPUs, one each, where it holds fewer: its
    lease (``resources: gpu``), or under SLURM the GPUs SLURM gave it."""
    if device != "cuda":
        return
    from .gpu import visible_gpus

    held = leased or visible_gpus(os.environ, lambda: 0)
    if held and len(held) < processes:
        raise RuntimeError(f"this job trains on {processes} processes, one per GPU, but holds "
                           f"{len(held)} GPU(s): {', '.join(held)} (its resources: gpu, or the "
                           "GPUs SLURM gave it)")


def start_worker(sm, spec: dict) -> JobMeter:
    """Start one of a job's processes under accelerate launch (:func:`start_job` started them):
    no log of its own (its output is the job's process's, the job's log) and no lease (the
    job's, in ``CUDA_VISIBLE_DEVICES``); bitsandbytes kept out as in the job, its share of the
    job's threads, the seed, and its GPU, the one of its local rank. Its meter counts the
    job's wall time from the job's start."""
    from .launch import local_rank
    from .modeling import resolve_device

    settings = worker()
    gc.disable()
    keep_freed_memory()
    if spec.get("quantization", "none") == "none":
        skip_bitsandbytes()
    prepare_torch(settings["threads"], sm.params.seed)
    device = resolve_device()
    if device == "cuda":
        import torch

        # Before the model loads: "cuda" is then this process's GPU.
        torch.cuda.set_device(local_rank())
    return JobMeter(device, started_at=settings["started"])


def gpu_memory_mib(nvml: bool = False) -> float | None:
    """The smallest total memory of the GPUs this job holds (``$SFTDPO_GPU_MEMORY_MB`` where
    set); None without one. ``nvml``: asked through NVML, not CUDA (of this machine's GPUs),
    in a process that starts others on them."""
    from .machine_memory import GPU_MEMORY_ENV, MB_PER_MIB, nvml_gpu_memory_mib

    if os.environ.get(GPU_MEMORY_ENV):
        return float(os.environ[GPU_MEMORY_ENV]) / MB_PER_MIB
    if nvml:
        return nvml_gpu_memory_mib()
    import torch

    if not torch.cuda.is_available():
        return None
    return min(torch.cuda.get_device_properties(index).total_memory
               for index in range(torch.cuda.device_count())) / 2**20


def check_memory(sm, device: str, gpu_mib: float | None = None) -> None:
    """The job's memory against the machine's before it loads anything
    (:func:`sftdpo.job_memory.check_job`): its estimate and what to change go to the top of its
    log, and a job that cannot fit is refused here, naming the numbers. ``gpu_mib``: the GPU's
    memory (default: :func:`gpu_memory_mib` on CUDA)."""
    from .job_memory import check_job

    if device == "cuda" and gpu_mib is None:
        gpu_mib = gpu_memory_mib()
    check_job(sm, device, gpu_mib=gpu_mib)


class JobMeter:
    """Measures one job: the clock starts when the meter is made; :meth:`measure` brackets the
    compute section; :meth:`record` gives the compute record (:mod:`sftdpo.compute`).
    ``device`` is "cuda" or "cpu"."""

    def __init__(self, device: str, started_at: float | None = None):
        self.device = device
        # started_at: the job's start by the wall clock (time.time()) where it started in
        # another process (a job of several processes: sftdpo.launch).
        self.started = time.perf_counter() - (0.0 if started_at is None
                                              else max(0.0, time.time() - started_at))
        self.cpu_started = time.process_time()
        self.accelerator_seconds = 0.0 if device == "cuda" else None

    @contextmanager
    def measure(self):
        """Count the block's wall time as accelerator time (on CUDA; nothing on a CPU).

        The job's start-up ends here: where :func:`start_job` turned the garbage collector
        off, what start-up loaded is frozen (kept out of every later collection: it lives as
        long as the job) and the collector is turned back on for the compute section."""
        if not gc.isenabled():
            gc.freeze()
            gc.enable()
        if self.accelerator_seconds is None:
            yield
            return
        import torch

        torch.cuda.synchronize()
        started = time.perf_counter()
        yield
        torch.cuda.synchronize()
        self.accelerator_seconds += time.perf_counter() - started

    def device_name(self) -> str:
        if self.device != "cuda":
            return self.device
        import torch

        count = torch.cuda.device_count()
        name = torch.cuda.get_device_name(0)
        return name if count == 1 else f"{count} x {name}"

    def peak_memory_mib(self) -> float:
        if self.device == "cuda":
            import torch

            # One of a job's processes: its own GPU (the job's record sums the processes').
            devices = ([torch.cuda.current_device()] if worker() is not None
                       else range(torch.cuda.device_count()))
            return sum(torch.cuda.max_memory_allocated(index) for index in devices) / 2**20
        # Linux: the kernel's high-water mark of this process's resident set. getrusage's
        # ru_maxrss would keep the peak of the process that started the job (Snakemake's)
        # across fork and exec.
        status = Path("/proc/self/status")
        if status.exists():
            line = next((line for line in status.read_text().splitlines()
                         if line.startswith("VmHWM:")), None)
            if line is not None:
                return int(line.split()[1]) / 2**10  # kB
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux counts kibibytes, macOS bytes.
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10

    def record(self, tokens: int, flops: float, **details) -> dict:
        """The compute record (:mod:`sftdpo.compute`), with ``details`` added as they are."""
        return {
            "device": self.device_name(),
            "flops": float(flops),
            "cpu_seconds": time.process_time() - self.cpu_started,
            "wall_seconds": time.perf_counter() - self.started,
            "accelerator_seconds": self.accelerator_seconds,
            "tokens": int(tokens),
            "peak_memory_mib": self.peak_memory_mib(),
            **details,
        }

    def job_record(self, tokens: int, flops: float, **details) -> dict:
        """The compute record of a training job, which may run on several processes
        (:mod:`sftdpo.launch`; every one of them must call this): :meth:`record` with the CPU
        and accelerator seconds and the peak memory summed over the processes (the GPU
        seconds are N x the compute section's wall time on N GPUs), the wall time the
        longest process's, and ``processes``, how many there were. ``tokens``, ``flops`` and
        ``details`` are the whole job's already."""
        from .launch import gather

        records = gather(self.record(tokens, flops, **details))
        record = dict(records[0])
        if len(records) > 1:
            record["cpu_seconds"] = sum(r["cpu_seconds"] for r in records)
            record["wall_seconds"] = max(r["wall_seconds"] for r in records)
            seconds = [r["accelerator_seconds"] for r in records]
            record["accelerator_seconds"] = None if None in seconds else sum(seconds)
            record["peak_memory_mib"] = sum(r["peak_memory_mib"] for r in records)
        record["processes"] = len(records)
        return record
