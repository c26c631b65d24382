"""Helpers for the tests that run the workflow through Snakemake on the tiny model: the config,
the user data files and the command, from the checkout or from a project that uses the workflow
as a module (tests/test_workflow.py, test_failed_runs.py, test_selection.py, test_slurm.py,
test_module.py; the shared finished run is a fixture in tests/conftest.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from snakemake.profiles import ProfileConfigFileParser

from sftdpo.model_rules import MODEL_RULES
from sftdpo.tasks import BUILTIN_TASKS

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
PROFILE = REPO / "slurm"


def profile_settings(path: Path = PROFILE / "config.yaml") -> dict:
    """The profile as Snakemake reads it: option name to value or list of KEY=VALUE strings."""
    with path.open() as handle:
        return dict(ProfileConfigFileParser().parse(handle))


def profile_resources(option: str) -> dict:
    """``default-resources`` as {resource: value}; ``set-resources`` as {rule: {resource: value}}
    (values as written, unevaluated)."""
    resources: dict = {}
    for entry in profile_settings().get(option, []):
        key, value = entry.split("=", 1)
        if option == "set-resources":
            rule, key = key.split(":", 1)
            resources.setdefault(rule, {})[key] = value
        else:
            resources[key] = value
    return resources


def gpu_rules() -> list[str]:
    """The rules the SLURM profile gives a GPU job's resources (cores per GPU): those that
    declare a GPU (tests/test_slurm.py)."""
    return sorted(rule for rule, res in profile_resources("set-resources").items()
                  if "cpus_per_gpu" in res)


# The GPU rules' threads in the shared finished run and in the SLURM run compared with it (the
# same, since torch's results may depend on them: tests/test_slurm.py), and in the other long
# runs: one, so that two of these jobs share the test machine's two cores rather than one job
# taking both (the tiny model gains nothing from a second thread).
THREADS = 1
ONE_THREAD = ("--set-threads", *[f"{rule}={THREADS}" for rule in MODEL_RULES])


def write_user_files(workdir: Path) -> dict:
    """The user's data files in ``workdir`` and the config entries that point at them."""
    messages = BUILTIN_TASKS["provider_triage"].build_items(60, 11)
    pd.DataFrame({"msg_id": [f"m{i}" for i in range(len(messages))],
                  "message": [item["text"] for item in messages],
                  "role": [item["provider"] for item in messages]}).to_csv(
        workdir / "messages.csv", index=False)
    notes = BUILTIN_TASKS["hospital_course_summary"].build_items(30, 11)
    with (workdir / "notes.jsonl").open("w") as handle:
        for item in notes:
            first_sentence = item["reference"].split(". ")[0].rstrip(".") + "."
            handle.write(json.dumps({"note": item["text"], "summary": first_sentence}) + "\n")
    return {
        "my_messages": {"family": "triage", "data": {
            "path": "messages.csv", "columns": {"id": "msg_id", "text": "message",
                                                "label": "role"}}},
        "my_summaries": {"family": "summarization", "max_new_tokens": 24, "data": {
            "path": "notes.jsonl", "columns": {"text": "note", "reference": "summary"}}},
    }


def tiny_config(model_dir, tasks: dict) -> dict:
    stage = {"epochs": 1, "batch_size": 8, "mixed_precision": "none"}
    return {
        "seed": 3,
        "context_length": 1024,
        "models": {"tiny": {"source": "local", "path": str(model_dir), "dtype": "float32"}},
        "tasks": tasks,
        "split": {"validation": 0.1, "test": 0.4},
        "sft": {**stage, "learning_rate": 1e-3},
        "dpo": {**stage, "learning_rate": 1e-3, "beta": 0.1},
        "generation": {"batch_size": 8},
        # Generated answers, parsed and scored (the default scores the label tasks' candidate
        # answers by likelihood instead): the path with the most steps to check.
        "evaluation": {"mode": "generate"},
        "statistics": {"n_resamples": 500},
        # The tiny model also judges the summaries (a real judge would be a larger model).
        "judge": {"model": "tiny", "max_new_tokens": 6},
    }


# A project of its own that uses the workflow as a module (the Snakemake workflow catalog's
# standardized usage): its Snakefile, with its config.yaml beside it, names the workflow's
# workflow/Snakefile; nothing of the checkout is installed for it (tests/test_module.py).
MODULE_SNAKEFILE = """\
configfile: "config.yaml"


module sftdpo:
    snakefile:
        {snakefile!r}
    config:
        config


use rule * from sftdpo
"""


def write_module_project(workdir: Path, workflow_dir: Path = REPO / "workflow",
                         more: str = "") -> None:
    """``workdir``'s Snakefile: the workflow in ``workflow_dir`` as a module, then ``more``."""
    (workdir / "Snakefile").write_text(
        MODULE_SNAKEFILE.format(snakefile=str(workflow_dir / "Snakefile")) + more)


def module_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake in a module project's folder, as its user runs it: no --snakefile, --directory
    or --configfile."""
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=workdir,
                          capture_output=True, text=True, timeout=900)


def command(workdir: Path, *args: str) -> list[str]:
    return [*SNAKEMAKE, "--directory", str(workdir), "--configfile",
            str(workdir / "config.yaml"), "--cores", "2", *args]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(workdir, *args), capture_output=True, text=True, timeout=900)


def new_workdir(tmp_path_factory, model_dir, all_tasks: bool = True) -> Path:
    workdir = tmp_path_factory.mktemp("run")
    tasks = ({"clinical_reasoning": {"n_items": 40, "max_new_tokens": 6},
              **write_user_files(workdir)} if all_tasks
             else {"provider_triage": {"n_items": 60}})
    (workdir / "config.yaml").write_text(yaml.safe_dump(tiny_config(model_dir, tasks)))
    return workdir
