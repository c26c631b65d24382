"""A job's GPUs on one machine: a lease by an exclusive ``flock`` on one lock file per GPU.

Snakemake counts ``resources: gpu=N`` against ``--resources gpu=K`` but assigns no device ids,
so the jobs running at once would all see every GPU. :func:`gpu_lease` gives each job its own:
it takes N free GPUs' locks in a lock folder shared by the jobs of the machine and sets
``CUDA_VISIBLE_DEVICES`` to those GPUs, which CUDA reads when it initialises, so the lease must
come before anything asks CUDA about devices. Importing torch does not;
``torch.cuda.is_available()`` does (it calls ``cudaGetDeviceCount``), and so does importing peft,
which imports bitsandbytes, which asks at import time.

The kernel drops a ``flock`` when its file is closed, also when the process is killed, so a
crashed job never leaves its GPU locked. When too few GPUs are free the job waits (with a line
in its log) until enough are.

A job of N GPUs takes them all or none: one attempt holds the lock folder's own lock
(``lease.lock``) while it takes the N GPU locks, and gives back those it took when it finds
fewer than N free, so no job holds GPUs while it waits for more. Two jobs that want different
counts therefore never deadlock (neither holds part of what the other waits for), and two
attempts never interleave (each finds the GPUs as the other left them). A job that waits for
many GPUs may wait while jobs that want fewer take them as they free; within one Snakemake run
``--resources gpu=K`` starts a job only when its N of the K are free.

Which GPUs there are: the ids in ``CUDA_VISIBLE_DEVICES`` where it is set (the user's choice of
GPUs, indices or UUIDs), else as many indices as NVML counts. NVML is asked through the driver's
``libnvidia-ml.so.1`` directly, not through torch: ``torch.cuda.device_count()`` also tries NVML
first but falls back to ``cudaGetDeviceCount`` when NVML fails, and after that CUDA no longer
reads ``CUDA_VISIBLE_DEVICES`` in this process. No NVML (no NVIDIA driver): no GPU, nothing is
leased and the job runs on the CPU unchanged.

Under SLURM (``SLURM_JOB_ID`` set) SLURM has already given the job its GPUs and set
``CUDA_VISIBLE_DEVICES``: nothing is leased and the variable is kept.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

LOCK_DIR_ENV = "SFTDPO_GPU_LOCK_DIR"
# Relative to the job's working directory, which Snakemake sets to the workflow's directory.
DEFAULT_LOCK_DIR = ".snakemake/gpu-locks"


def nvml_device_count() -> int:
    """The machine's NVIDIA GPUs by NVML, without initialising CUDA; 0 without a driver."""
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return 0
    if nvml.nvmlInit_v2() != 0:
        print("GPU lease: the NVIDIA driver library is there but NVML does not initialise; "
              "treating this machine as having no GPU", file=sys.stderr)
        return 0
    count = ctypes.c_uint(0)
    status = nvml.nvmlDeviceGetCount_v2(ctypes.byref(count))
    nvml.nvmlShutdown()
    return count.value if status == 0 else 0


def visible_gpus(environ: MutableMapping[str, str], count: Callable[[], int]) -> list[str]:
    """The GPU ids a job may lease: ``CUDA_VISIBLE_DEVICES``'s list where it is set (CUDA
    ignores the entries from a negative one on, "-1" hides all), else ``0 .. count()-1``."""
    if "CUDA_VISIBLE_DEVICES" not in environ:
        return [str(index) for index in range(count())]
    ids = []
    for entry in environ["CUDA_VISIBLE_DEVICES"].split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        ids.append(entry)
    return ids


def _lock_file(lock_dir: Path, gpu: str) -> Path:
    return lock_dir / f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', gpu)}.lock"


# The lock folder's own lock, held by one attempt to lease at a time.
ATTEMPT_LOCK = "lease.lock"


def _try_lease(lock_dir: Path, gpus: list[str], wanted: int) -> list[tuple[str, object]]:
    """Locks on ``wanted`` free GPUs, or none: never hold some while waiting for more. One
    attempt at a time takes locks in the folder (:data:`ATTEMPT_LOCK`; the module docstring)."""
    with open(lock_dir / ATTEMPT_LOCK, "a") as attempt:
        fcntl.flock(attempt, fcntl.LOCK_EX)
        return _take(lock_dir, gpus, wanted)


def _take(lock_dir: Path, gpus: list[str], wanted: int) -> list[tuple[str, object]]:
    held = []
    for gpu in gpus:
        handle = open(_lock_file(lock_dir, gpu), "a")  # noqa: SIM115 - held for the lease
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        held.append((gpu, handle))
        if len(held) == wanted:
            return held
    for _, handle in held:
        handle.close()
    return []


@contextmanager
def gpu_lease(
    wanted: int,
    lock_dir: str | Path | None = None,
    visible: list[str] | None = None,
    environ: MutableMapping[str, str] | None = None,
    poll_seconds: float = 2.0,
) -> Iterator[list[str]]:
    """Hold ``wanted`` GPUs of this machine for the ``with`` block; yields their ids.

    Sets ``environ["CUDA_VISIBLE_DEVICES"]`` (default ``os.environ``) to the leased ids and
    restores it on exit. Yields ``[]`` and changes nothing when the job wants no GPU, runs
    under SLURM, or the machine has none. ``visible`` replaces the detected GPU ids (tests);
    ``lock_dir`` defaults to ``$SFTDPO_GPU_LOCK_DIR``, else ``.snakemake/gpu-locks``.
    """
    environ = os.environ if environ is None else environ
    if wanted <= 0 or "SLURM_JOB_ID" in environ:
        yield []
        return
    gpus = visible if visible is not None else visible_gpus(environ, nvml_device_count)
    if not gpus:
        yield []
        return
    if wanted > len(gpus):
        raise ValueError(f"this job asks for {wanted} GPUs (resources: gpu={wanted}) but this "
                         f"machine shows {len(gpus)}: {', '.join(gpus)}")
    lock_dir = Path(lock_dir or environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)
    lock_dir.mkdir(parents=True, exist_ok=True)
    held = _try_lease(lock_dir, gpus, wanted)
    if not held:
        print(f"GPU lease: waiting for {wanted} of the GPUs {', '.join(gpus)}; other jobs hold "
              f"them (locks in {lock_dir})", file=sys.stderr, flush=True)
        started = time.monotonic()
        while not held:
            time.sleep(poll_seconds)
            held = _try_lease(lock_dir, gpus, wanted)
        print(f"GPU lease: waited {time.monotonic() - started:.0f} s", file=sys.stderr)
    leased = [gpu for gpu, _ in held]
    previous = environ.get("CUDA_VISIBLE_DEVICES")
    environ["CUDA_VISIBLE_DEVICES"] = ",".join(leased)
    print(f"GPU lease: CUDA_VISIBLE_DEVICES={environ['CUDA_VISIBLE_DEVICES']}", file=sys.stderr,
          flush=True)
    try:
        yield leased
    finally:
        if previous is None:
            environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            environ["CUDA_VISIBLE_DEVICES"] = previous
        for _, handle in held:
            handle.close()
