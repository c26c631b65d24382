"""This machine's memory, as the memory checks read it: the memory a job may use (the
machine's, or its cgroup's limit: a SLURM job's --mem), the memory free now, the smallest
visible NVIDIA GPU's (by NVML, without initialising CUDA), and whether the CPU computes
bfloat16 natively (what a bfloat16 weight takes there:
:func:`sftdpo.memory_estimate.compute_bytes`).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

MIB = 2**20
# Snakemake's mem_mb counts megabytes (10**6 bytes), as SLURM's --mem does.
MB_PER_MIB = MIB / 10**6

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
