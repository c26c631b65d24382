"""Outputs are keyed by what they are: a second experiment naming the same model, with its entry's
keys in another order and another attention, shares resources/models/<name> without re-making
it; reordering the keys of a config entry reruns nothing. Only the model and data jobs (and the
context check) run for real, on the tiny model; everything else is planned by dry runs."""

import json
import re
import subprocess
import sys

import pytest
import yaml

from workflow_runs import REPO, snakemake, tiny_config, write_user_files


def reordered(value):
    """``value`` with the keys of every mapping in it in reverse order (lists keep theirs)."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def planned_paths(result) -> list[str]:
    """Every output and log path of every job a dry run (snakemake -n) plans."""
    text = result.stdout + result.stderr
    return [path for line in re.findall(r"^\s+(?:output|log): (.+)$", text, re.MULTILINE)
            for path in line.split(", ")]


def write_config(workdir, config):
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def built_workdir(tiny_model_dir, tmp_path_factory):
    """A folder where the model, the data of a built-in and a user task and their context
    checks have run for real (the cheap head of the DAG), from a config whose model entry sets
    an attention."""
    workdir = tmp_path_factory.mktemp("shared")
    tasks = {"provider_triage": {"n_items": 60, "max_new_tokens": 6, "too_long": "fail",
                                 "pairs": {"strategy": "hardest_wrong_label", "min_share": 0.2}},
             "my_messages": write_user_files(workdir)["my_messages"] | {"description": "mine"}}
    config = tiny_config(tiny_model_dir, tasks)
    config["models"]["tiny"] |= {"attention": "eager", "quantization": "none"}
    write_config(workdir, config)
    targets = ["all_data", *(f"results/data/{task}/context_tiny.json" for task in tasks)]
    result = snakemake(workdir, *targets)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, config, targets


def test_a_second_experiment_shares_the_model_whatever_its_attention_and_key_order(
        built_workdir):
    workdir, config, _ = built_workdir
    other = reordered(config) | {"experiment": "other"}
    other["models"]["tiny"]["attention"] = "sdpa"
    assert list(other["models"]["tiny"]) != list(config["models"]["tiny"])
    write_config(workdir, other)
    try:
        result = snakemake(workdir, "-n", "all")
    finally:
        write_config(workdir, config)
    assert result.returncode == 0, result.stderr[-4000:]
    planned = planned_paths(result)
    assert planned, "the dry run planned nothing: its output format changed?"
    assert not re.search(r"^(local)?rule model:", result.stdout + result.stderr, re.MULTILINE)
    assert [path for path in planned if not path.startswith("experiments/other/")] == []


def test_reordering_the_keys_of_task_and_model_entries_reruns_nothing(built_workdir):
    workdir, config, targets = built_workdir
    changed = config | {"tasks": {name: reordered(spec) for name, spec in config["tasks"].items()},
                        "models": {name: reordered(spec)
                                   for name, spec in config["models"].items()}}
    write_config(workdir, changed)
    try:
        result = snakemake(workdir, "-n", *targets)
    finally:
        write_config(workdir, config)
    assert result.returncode == 0, result.stderr[-4000:]
    assert planned_paths(result) == [], (result.stdout + result.stderr)[-4000:]


# Every job of a DAG and its params as Snakemake records them for the "params changed" trigger
# (snakemake.persistence.Persistence._params: the sorted repr() of each param), with nothing
# run: the DAG is only built.
JOB_PARAMS = """
import contextlib, io, json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import (ConfigSettings, DAGSettings, OutputSettings,
                                      ResourceSettings, StorageSettings)

snakefile, workdir, configfile = map(Path, sys.argv[1:4])
with SnakemakeApi(OutputSettings()) as api:
    workflow_api = api.workflow(
        resource_settings=ResourceSettings(cores=1), storage_settings=StorageSettings(),
        config_settings=ConfigSettings(configfiles=[configfile]), snakefile=snakefile,
        workdir=workdir)
    dag_api = workflow_api.dag(DAGSettings(targets={"all"}, forceall=True))
    with contextlib.redirect_stdout(io.StringIO()):
        dag_api.printrulegraph()  # builds the DAG (printdag fails in Snakemake 9.27)
    workflow = workflow_api._workflow
    jobs = {f"{job.rule.name} {sorted(job.output)}": workflow.persistence._params(job)
            for job in workflow.dag.jobs}
print("JOBS " + json.dumps(jobs))
"""


def job_params(workdir, configfile) -> dict:
    result = subprocess.run([sys.executable, "-c", JOB_PARAMS, str(REPO / "Snakefile"),
                             str(workdir), str(configfile)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("JOBS "))
    return json.loads(line.removeprefix("JOBS "))


def test_every_jobs_params_are_the_same_whatever_the_key_order(tiny_model_dir, tmp_path):
    """The whole DAG (tuning grids included), built twice: from a config and from the same
    config with the keys of its model and task entries and of its other sections in reverse
    order (task and model names keep theirs). Every job must have the same params, so that
    neither config reruns what the other built."""
    tasks = {"provider_triage": {"n_items": 60, "max_new_tokens": 6, "attention": "sdpa",
                                 "pairs": {"strategy": "hardest_wrong_label",
                                           "min_share": 0.2}},
             **write_user_files(tmp_path)}
    config = tiny_config(tiny_model_dir, tasks)
    config["models"]["tiny"] |= {"attention": "eager", "quantization": "none"}
    config["sft"] |= {"learning_rate": [1e-3, 2e-3], "warmup_steps": 0}
    config["lora"] = {"r": 4, "alpha": 8, "dropout": 0.0}
    changed = {section: reordered(value) for section, value in config.items()} | {
        "tasks": {name: reordered(spec) for name, spec in config["tasks"].items()},
        "models": {name: reordered(spec) for name, spec in config["models"].items()}}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    first, second = job_params(tmp_path, tmp_path / "a.yaml"), job_params(tmp_path,
                                                                          tmp_path / "b.yaml")
    assert set(first) == set(second)
    assert {job.split()[0] for job in first} >= {"model", "sft", "validate_candidate", "pairs",
                                                 "dpo", "generate", "check_context"}
    changed_jobs = sorted(job for job, params in second.items() if params != first[job])
    assert changed_jobs == []


@pytest.mark.parametrize("path", ["experiments/other/results/summary/table.md",
                                  "experiments/other/logs/data/mine.log", "results/data/x.jsonl"])
def test_every_experiments_outputs_are_ignored_by_git(path):
    result = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "-q", path])
    assert result.returncode == 0, f"{path} is not ignored by git (.gitignore)"
