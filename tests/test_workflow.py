"""The whole DAG through Snakemake on a tiny random model: every stage runs and writes the
results contract; a second run has nothing to do."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
TASKS = ("provider_triage", "urgency_triage")
METHODS = ("base", "sft", "dpo")


def tiny_config(model_dir) -> dict:
    stage = {"epochs": 1, "batch_size": 8, "max_length": 1024, "mixed_precision": "none"}
    return {
        "seed": 3,
        "models": {"tiny": {"source": "local", "path": str(model_dir), "dtype": "float32"}},
        "tasks": {task: {"n_items": 60} for task in TASKS},
        "split": {"validation": 0.1, "test": 0.4},
        "sft": {**stage, "learning_rate": 1e-3},
        "dpo": {**stage, "learning_rate": 1e-3, "beta": 0.1},
        "generation": {"max_new_tokens": 4, "batch_size": 8},
        "statistics": {"n_resamples": 500},
    }


def command(workdir: Path, *args: str) -> list[str]:
    return [*SNAKEMAKE, "--directory", str(workdir), "--configfile",
            str(workdir / "config.yaml"), "--cores", "2", *args]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(workdir, *args), capture_output=True, text=True, timeout=900)


def new_workdir(tmp_path_factory, model_dir) -> Path:
    workdir = tmp_path_factory.mktemp("run")
    (workdir / "config.yaml").write_text(yaml.safe_dump(tiny_config(model_dir)))
    return workdir


@pytest.fixture(scope="module")
def finished_run(tiny_model_dir, tmp_path_factory):
    workdir = new_workdir(tmp_path_factory, tiny_model_dir)
    result = snakemake(workdir, "all")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_predictions_follow_the_results_contract(finished_run):
    for task in TASKS:
        test_ids = [json.loads(line)["id"] for line in
                    (finished_run / f"results/data/{task}/test.jsonl").open()]
        for method in METHODS:
            path = finished_run / f"results/predictions/tiny/{task}/{method}.jsonl"
            records = [json.loads(line) for line in path.open()]
            assert [r["id"] for r in records] == test_ids
            for record in records:
                assert {"id", "prediction", "parsed", "reference", "score"} <= set(record)
                assert record["score"] == int(record["parsed"] == record["reference"])
            metrics = json.loads(
                (finished_run / f"results/metrics/tiny/{task}/{method}.json").read_text())
            assert metrics["n"] == len(test_ids)
            assert metrics["accuracy"] == pytest.approx(
                sum(r["score"] for r in records) / len(records))
            low, high = metrics["accuracy_ci"]
            assert low <= metrics["accuracy"] <= high


def test_stats_have_every_comparison_with_p_values(finished_run):
    for task in TASKS:
        stats = pd.read_csv(finished_run / f"results/stats/tiny/{task}.csv")
        assert list(stats.columns) == ["comparison", "metric", "a", "b", "diff", "ci_low",
                                       "ci_high", "test", "statistic", "p_value", "p_adjusted"]
        assert set(stats["comparison"]) == {"base_vs_sft", "sft_vs_dpo", "base_vs_dpo"}
        assert stats["p_value"].between(0, 1).all()
        assert (stats["p_adjusted"] >= stats["p_value"] - 1e-12).all()


def test_summary_table_has_every_task_and_method(finished_run):
    table = pd.read_csv(finished_run / "results/summary/table.csv")
    assert set(table["task"]) == set(TASKS)
    for method in METHODS:
        assert f"tiny {method}" in table.columns
    assert "tiny P dpo vs sft" in table.columns
    markdown = (finished_run / "results/summary/table.md").read_text()
    assert "provider_triage" in markdown and "urgency_triage" in markdown


def test_training_stages_leave_adapters_and_logs(finished_run):
    for task in TASKS:
        for stage in ("sft", "dpo"):
            adapter = finished_run / f"results/adapters/tiny/{task}/{stage}"
            assert (adapter / "adapter_model.safetensors").is_file()
            history = json.loads((adapter / "log_history.json").read_text())
            assert any("loss" in entry for entry in history)
        pairs = [json.loads(line) for line in
                 (finished_run / f"results/pairs/tiny/{task}.jsonl").open()]
        assert all(p["chosen"] != p["rejected"] and p["strategy"] == "hardest_wrong_label"
                   for p in pairs)
    assert (finished_run / "logs/sft/tiny/provider_triage.log").stat().st_size > 0


def test_second_run_has_nothing_to_do(finished_run):
    result = snakemake(finished_run, "all", "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_run_stopped_during_training_leaves_nothing_marked_done(tiny_model_dir,
                                                                  tmp_path_factory):
    workdir = new_workdir(tmp_path_factory, tiny_model_dir)
    running = subprocess.Popen(command(workdir, "all"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    training_log = workdir / "logs/sft/tiny/provider_triage.log"
    deadline = time.time() + 300
    while not training_log.exists() and time.time() < deadline:
        time.sleep(0.05)
    # Ctrl-C in a terminal: SIGINT to Snakemake and its running job, while SFT trains.
    os.killpg(running.pid, signal.SIGINT)
    running.wait(timeout=120)
    adapter = workdir / "results/adapters/tiny/provider_triage/sft"
    assert not (adapter / "adapter_model.safetensors").exists()
    assert not (workdir / "results/summary/table.md").exists()
    result = snakemake(workdir, "all")  # the workflow profile reruns incomplete jobs
    assert result.returncode == 0, result.stderr[-4000:]
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (workdir / "results/summary/table.md").is_file()


def test_a_dpo_setting_reruns_dpo_and_what_follows_not_sft(finished_run, tmp_path):
    config = yaml.safe_load((finished_run / "config.yaml").read_text())
    config["dpo"]["beta"] = 0.5
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(finished_run), "--configfile", str(changed), "-n",
         "--quiet", "rules", "all"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    planned = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {"dpo", "generate", "score", "stats", "summary"} <= planned
    assert not planned & {"model", "data", "sft", "pairs"}
