"""The trackers a training run reports to (its stage's ``report_to``: MLflow, TensorBoard,
W&B...), under the run's own name (:class:`TrainingRun`); none sends anything unless its
settings say where."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from .io import partial_dir

# Where a TensorBoard run's events go, in the adapter folder (or below TENSORBOARD_LOGGING_DIR).
TENSORBOARD_FOLDER = "tensorboard"


class TrainingRun(NamedTuple):
    """Which training a job runs: its trackers' run name and tags."""

    model: str
    task: str
    seed: int
    method: str
    candidate: str | None = None

    @classmethod
    def of(cls, wildcards, method: str) -> TrainingRun:
        """The run of a rule's job (``method``: sft, dpo or sft_matched; a tuning candidate's
        job has the candidate among its wildcards)."""
        return cls(wildcards.model, wildcards.task, int(wildcards.seed), method,
                   getattr(wildcards, "candidate", None))

    @property
    def name(self) -> str:
        """``<model>/<task>/seed<seed>/<method>[/<candidate>]``, as the results' paths go."""
        parts = [self.model, self.task, f"seed{self.seed}", self.method, self.candidate]
        return "/".join(part for part in parts if part is not None)

    def tags(self) -> dict[str, str]:
        return {key: str(value) for key, value in self._asdict().items() if value is not None}


def keep_trackers_offline(environ=os.environ) -> None:
    """Where the environment does not say otherwise: MLflow sends no telemetry, W&B logs
    offline (``wandb sync`` uploads later; WANDB_MODE=online streams). Before the trainer is
    built: its trackers' callbacks import their packages then, and MLflow reads its switch on
    import."""
    environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    environ.setdefault("WANDB_MODE", "offline")


def tensorboard_dir(run: TrainingRun | None, out_dir: Path) -> Path:
    """Where TensorBoard writes a run's events: ``$TENSORBOARD_LOGGING_DIR/<run name>`` where
    that is set, else the adapter folder's ``tensorboard/`` (written in the scratch folder,
    kept when the adapter is saved)."""
    base = os.environ.get("TENSORBOARD_LOGGING_DIR")
    if base and run is not None:
        return Path(base).expanduser() / run.name
    return partial_dir(out_dir) / TENSORBOARD_FOLDER


def track(trainer, run: TrainingRun | None, out_dir: Path) -> None:
    """Point the trainer's trackers at this run: TensorBoard's events to
    :func:`tensorboard_dir` (emptied first: a rerun starts its curves anew), and the run's
    tags (model, task, seed, method, candidate) onto its MLflow run."""
    from transformers import TrainerCallback
    from transformers.integrations import TensorBoardCallback

    from .launch import is_main_process

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback):
            callback.logging_dir = str(tensorboard_dir(run, out_dir))
            # The first of a job's processes writes the events (sftdpo.launch).
            if is_main_process():
                shutil.rmtree(callback.logging_dir, ignore_errors=True)
    if run is None or "mlflow" not in trainer.args.report_to:
        return

    class RunTags(TrainerCallback):  # after transformers' MLflowCallback has started the run
        def on_train_begin(self, args, state, control, **kwargs):
            import mlflow

            if state.is_world_process_zero and mlflow.active_run() is not None:
                mlflow.set_tags(run.tags())

    trainer.add_callback(RunTags())
