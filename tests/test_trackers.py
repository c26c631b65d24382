"""The trackers of a stage's report_to, end to end on the tiny model: the workflow's SFT, DPO
and matched-control jobs report to MLflow (a local file store, one run per job, named by model,
task, seed and method, with its parameters and losses) and to TensorBoard (event files in each
adapter folder), with TRL's and PEFT's own fields set in the config. Offline: the store is a
folder, the trackers' telemetry is off (sftdpo.trackers.keep_trackers_offline)."""

import json
from pathlib import Path

import pytest
import yaml

from sftdpo.config import ConfigError, check_config
from sftdpo.trackers import TrainingRun, keep_trackers_offline, tensorboard_dir
from workflow_runs import ONE_THREAD, REPO, new_workdir, snakemake

keep_trackers_offline()  # before mlflow is imported here
mlflow = pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
RUN = "tiny/provider_triage/seed3"
METHODS = ("sft", "dpo", "sft_matched")
EXPERIMENT = "sftdpo-tiny"


@pytest.fixture(scope="module")
def tracked_run(tiny_model_dir, tmp_path_factory):
    """One task's SFT, DPO and matched control, reporting to MLflow and TensorBoard, with
    weight_decay, max_grad_norm and LoRA's use_rslora set."""
    workdir = new_workdir(tmp_path_factory, tiny_model_dir, all_tasks=False)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    trackers = {"weight_decay": 0.01, "max_grad_norm": 0.5,
                "report_to": ["mlflow", "tensorboard"]}
    config["sft"].update(trackers)
    config["dpo"].update(trackers)
    config["lora"] = {"r": 4, "use_rslora": True}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    store = workdir / "mlruns"
    # MLflow 3 keeps the file store for those who ask for it (MLflow's own default, a SQLite
    # database, needs SQLAlchemy, which mlflow-skinny leaves out). The jobs inherit Snakemake's
    # environment; the tests read the store with it.
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("MLFLOW_TRACKING_URI", store.as_uri())
        environment.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        environment.setenv("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
        result = snakemake(workdir, f"results/adapters/{RUN}/sft_matched", *ONE_THREAD)
        assert result.returncode == 0, result.stderr[-4000:]
        yield workdir, store.as_uri()


def logged_losses(workdir, method) -> list[float]:
    history = json.loads((workdir / f"results/adapters/{RUN}/{method}/log_history.json")
                         .read_text())
    return [entry["loss"] for entry in history if "loss" in entry]


def test_mlflow_holds_one_run_per_training_job_with_its_parameters_and_losses(tracked_run):
    workdir, uri = tracked_run
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == sorted(f"{RUN}/{method}" for method in METHODS)
    for method in METHODS:
        run = runs[f"{RUN}/{method}"]
        assert run.info.status == "FINISHED"
        tags = {key: run.data.tags.get(key) for key in ("model", "task", "seed", "method")}
        assert tags == {"model": "tiny", "task": "provider_triage", "seed": "3",
                        "method": method}
        params = run.data.params
        assert (params["weight_decay"], params["max_grad_norm"]) == ("0.01", "0.5")
        assert params["learning_rate"] == "0.001" and params["seed"] == "3"
        losses = [m.value for m in sorted(client.get_metric_history(run.info.run_id, "loss"),
                                          key=lambda m: m.step)]
        assert losses == pytest.approx(logged_losses(workdir, method)) and losses
    # The LoRA field reached PEFT: the adapter SFT trained (and the others continued) uses it.
    adapter = json.loads((workdir / f"results/adapters/{RUN}/sft/adapter_config.json")
                         .read_text())
    assert adapter["use_rslora"] is True and adapter["r"] == 4


def test_tensorboard_writes_each_runs_events_in_its_adapter_folder(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    workdir, _ = tracked_run
    for method in METHODS:
        folder = workdir / f"results/adapters/{RUN}/{method}/tensorboard"
        assert len(list(folder.glob("events.out.tfevents.*"))) == 1, method
        events = EventAccumulator(str(folder))
        events.Reload()
        losses = [event.value for event in events.Scalars("train/loss")]
        assert losses == pytest.approx(logged_losses(workdir, method), rel=1e-6)
        # Nothing but the events is left of the trainer's scratch folder.
        assert not (workdir / f"results/adapters/{RUN}/{method}.partial").exists()


def test_tensorboard_logging_dir_holds_a_folder_per_run(tmp_path, monkeypatch):
    run = TrainingRun("tiny", "provider_triage", 3, "dpo", "beta0.1_lr5e-05")
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path))
    assert tensorboard_dir(run, Path("adapter")) == tmp_path / run.name
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR")
    assert tensorboard_dir(run, Path("a/dpo")) == Path("a/dpo.partial/tensorboard")


def tracked_config(report_to) -> dict:
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["sft"] = {"report_to": report_to}
    return config


def test_mlflow_without_a_tracking_uri_is_refused_while_planning(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ConfigError, match="sft.report_to: mlflow needs MLFLOW_TRACKING_URI"):
        check_config(tracked_config(["mlflow"]), SCHEMA)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:mlruns")
    check_config(tracked_config(["mlflow", "tensorboard"]), SCHEMA)


def test_a_tracker_that_is_not_installed_is_refused_while_planning():
    try:
        import wandb  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("wandb is installed here")
    with pytest.raises(ConfigError, match=r"sft.report_to: wandb is not installed here; "
                                          r"allowed: install wandb \(pip install wandb\)"):
        check_config(tracked_config("wandb"), SCHEMA)
