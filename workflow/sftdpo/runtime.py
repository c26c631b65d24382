"""What every job script does first: send its output to the rule's log, seed, size threads."""

from __future__ import annotations

import os
import sys


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
    set_seed(seed)
