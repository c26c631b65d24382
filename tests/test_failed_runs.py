"""Runs that stop or fail end to end on the tiny model: a run stopped during training leaves
nothing marked done, bad user data fails its job naming the row, and an item too long for the
context fails before any model job. Each runs in a folder of its own (the shared finished run's
checks: tests/test_workflow.py)."""

import json
import os
import signal
import subprocess
import time

import pandas as pd
import yaml

from workflow_runs import command, new_workdir, snakemake, tiny_config


def test_a_run_stopped_during_training_leaves_nothing_marked_done(tiny_model_dir,
                                                                  tmp_path_factory):
    workdir = new_workdir(tmp_path_factory, tiny_model_dir, all_tasks=False)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["sft"]["epochs"] = 40  # a long SFT, so the stop lands while it runs
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    # SIGINT back to its default for Snakemake and its jobs: a runner started in the background
    # (`cmd &` in a script) hands its children SIGINT ignored, and Ctrl-C would do nothing.
    running = subprocess.Popen(command(workdir, "all"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    training_log = workdir / "logs/sft/tiny/provider_triage/seed3/default.log"
    deadline = time.time() + 300
    while not training_log.exists() and time.time() < deadline:
        time.sleep(0.05)
    # Ctrl-C in a terminal: SIGINT to Snakemake and its running job, while SFT runs.
    os.killpg(running.pid, signal.SIGINT)
    running.wait(timeout=300)
    adapter = workdir / "results/adapters/tiny/provider_triage/seed3/sft"
    assert not (adapter / "adapter_model.safetensors").exists()
    assert not (workdir / "results/summary/table.md").exists()
    # A plain rerun redoes the interrupted job (the workflow profile reruns incomplete jobs);
    # the SFT stage is all it has to finish to show that, and a short one will do.
    config["sft"]["epochs"] = 1
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "all_sft")
    assert result.returncode == 0, result.stderr[-4000:]
    assert (adapter / "adapter_model.safetensors").is_file()


def run_with_tasks(tmp_path, model_dir, tasks: dict, *targets: str, **config_changes):
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(tiny_config(model_dir, tasks) | config_changes))
    return snakemake(tmp_path, *targets)


def test_bad_user_data_fails_its_job_naming_the_row_and_leaves_nothing(tiny_model_dir,
                                                                     tmp_path):
    # A Parquet file is checked by the data job (a small CSV already when Snakemake plans the
    # run, before any job: tests/test_config.py).
    pd.DataFrame({"text": ["No PTX.", "", "Small PTX."], "label": ["no", "yes", "yes"]}
                 ).to_parquet(tmp_path / "notes.parquet")
    tasks = {"bad": {"family": "text_classification", "data": {"path": "notes.parquet"}}}
    result = run_with_tasks(tmp_path, tiny_model_dir, tasks, "results/data/bad/meta.json")
    assert result.returncode != 0
    log = (tmp_path / "logs/data/bad.log").read_text()
    assert "notes.parquet, row 2, field 'text' (column 'text'): empty" in log
    assert "Traceback" not in log
    assert not list((tmp_path / "results").rglob("*.jsonl"))
    assert not (tmp_path / "results/data/bad/meta.json").exists()


def test_an_item_too_long_for_the_context_fails_before_any_model_job_unless_truncated(
        tiny_model_dir, tmp_path):
    # Row 4 (a training row) is far longer than the 128-token context below.
    splits = ["train"] * 18 + ["validation"] * 4 + ["test"] * 8
    rows = [f"Report {i}: {'no acute finding ' * (150 if i == 3 else 1)}.,"
            f"{'yes' if i % 2 else 'no'},{split}" for i, split in enumerate(splits)]
    (tmp_path / "notes.csv").write_text("text,label,split\n" + "\n".join(rows) + "\n")
    task = {"family": "text_classification", "data": {"path": "notes.csv"}}
    target = "results/adapters/tiny/long/seed3/sft"
    result = run_with_tasks(tmp_path, tiny_model_dir, {"long": task}, target,
                            context_length=128)
    assert result.returncode != 0
    log = (tmp_path / "logs/context/tiny/long.log").read_text()
    assert "notes.csv, data row 4 (line 5) (results/data/long/train.jsonl, line" in log
    assert "field text: the prompt takes" in log and "too_long: truncate" in log
    assert "Traceback" not in log
    assert not (tmp_path / "logs/sft").exists() and not (tmp_path / target).exists()
    result = run_with_tasks(tmp_path, tiny_model_dir, {"long": task | {"too_long": "truncate"}},
                            target, context_length=128)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "logs/sft/tiny/long/seed3/default.log").read_text()
    assert "were longer than the context" in log
    assert json.loads((tmp_path / "results/data/long/context_tiny.json").read_text())[
        "truncated"] == {"train": 1, "validation": 0, "test": 0}
