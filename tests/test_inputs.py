"""A user's files are inputs of the DAG: editing a data file reruns its data job and everything
downstream of it, and nothing else; replacing a local model's files reruns the model.

The run is simulated: every output is created and marked done by ``snakemake --touch``, so the
plans are Snakemake's own without training anything."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from sftdpo.userfiles import data_files

REPO = Path(__file__).resolve().parents[1]
ROWS = [["report_id", "impression", "acute_finding"]] + [
    [f"R{i}", f"Report number {i}: {'new effusion' if i % 2 else 'clear lungs'}.",
     "yes" if i % 2 else "no"] for i in range(40)]


def snakemake(workdir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), *args],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def planned_jobs(workdir: Path) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job ``snakemake -n all`` plans."""
    text = snakemake(workdir, "-n", "all")
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block).group(1)
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        jobs.append((rule, wildcards.group(1) if wildcards else ""))
    return jobs


@pytest.fixture
def touched_run(tmp_path):
    """A workdir with two user tasks and a local model, every output present and done."""
    for name in ("a.csv", "b.csv"):
        with (tmp_path / name).open("w", newline="") as handle:
            csv.writer(handle).writerows(ROWS)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    columns = {"id": "report_id", "text": "impression", "label": "acute_finding"}
    config = {
        "models": {"tiny": {"source": "local", "path": "model"}},
        "tasks": {task: {"family": "text_classification",
                         "data": {"path": f"{task}.csv", "columns": columns}}
                  for task in ("a", "b")},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # Every output of the plan, created in plan order, then marked done by --touch.
    plan = snakemake(tmp_path, "-n", "all")
    for line in re.findall(r"^\s+output: (.*)$", plan, re.MULTILINE):
        for name in line.split(", "):
            path = tmp_path / name
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            else:  # a directory output (a model, an adapter)
                path.mkdir(parents=True, exist_ok=True)
    snakemake(tmp_path, "--cores", "1", "--touch", "all")
    assert planned_jobs(tmp_path) == []
    return tmp_path


def test_an_edited_data_file_reruns_its_task_downstream_of_data_only(touched_run):
    path = touched_run / "a.csv"
    path.write_text(path.read_text().replace(",yes", ",acute"))
    jobs = planned_jobs(touched_run)
    rules = {rule for rule, _ in jobs}
    assert {"data", "sft", "pairs", "dpo", "sft_matched", "generate", "score", "stats",
            "summary", "figure_metric", "figure_confusion"} <= rules
    assert "model" not in rules
    # Every job is task a's, or gathers over tasks (summary, compute, the forest plot, all).
    for rule, wildcards in jobs:
        assert "task=a" in wildcards or rule in {"summary", "compute", "figure_forest", "all"}, (
            rule, wildcards)
    assert ("data", "task=a") in jobs and ("data", "task=b") not in jobs


def test_a_replaced_model_config_reruns_the_model(touched_run):
    (touched_run / "model" / "config.json").write_text('{"changed": true}')
    jobs = planned_jobs(touched_run)
    assert ("model", "model=tiny") in jobs
    assert not any(rule == "data" for rule, _ in jobs)


def test_every_file_of_a_datasets_folder_is_an_input(tmp_path):
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"], "label": ["x"]}),
                          "test": datasets.Dataset.from_dict({"text": ["b"], "label": ["y"]})}
                         ).save_to_disk(str(tmp_path / "saved"))
    files = data_files({"path": "saved"}, tmp_path, "data")
    assert "saved/dataset_dict.json" in files
    assert any(f.startswith("saved/train/") and f.endswith(".arrow") for f in files)
    assert any(f.startswith("saved/test/") for f in files)
    assert data_files({"hub_id": "user/notes"}, tmp_path, "data") == []
