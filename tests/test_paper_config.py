"""The paper's study (config/paper.yaml) is a valid config and plans every job it needs, offline.

Planning only: `snakemake --summary` builds the whole DAG and lists every output file with the
rule that makes it, without running anything (the `model` rule downloads only when it runs).
"""

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from sftdpo import METHODS
from sftdpo.config import check_config
from sftdpo.tasks import BUILTIN_TASKS

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config/paper.yaml"
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
HUB_IDS = {"meta-llama/Meta-Llama-3-8B-Instruct", "mistralai/Mistral-7B-Instruct-v0.2"}
PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

# Output paths by rule, with an optional seed level (results/<stage>/<model>/<task>/seedN/...).
SEED = r"(?:/seed(?P<seed>\d+))?"
PLANNED = {
    "model": r"resources/models/(?P<model>[^/]+)",
    "data": r"results/data/(?P<task>[^/]+)/test\.jsonl",
    # Training writes each candidate's adapter (one, "default", where nothing is tuned).
    "sft": rf"results/selection/(?P<model>[^/]+)/(?P<task>[^/]+){SEED}/sft/default/adapter",
    "pairs": rf"results/pairs/(?P<model>[^/]+)/(?P<task>[^/]+?){SEED}\.jsonl",
    "dpo": rf"results/selection/(?P<model>[^/]+)/(?P<task>[^/]+){SEED}/dpo/default/adapter",
    "generate": rf"results/generations/(?P<model>[^/]+)/(?P<task>[^/]+){SEED}/"
                r"(?P<method>\w+)\.jsonl",
    "score": rf"results/metrics/(?P<model>[^/]+)/(?P<task>[^/]+){SEED}/(?P<method>\w+)\.json",
    "stats": rf"results/stats/(?P<model>[^/]+)/(?P<task>[^/]+?){SEED}\.csv",
}


@pytest.fixture(scope="module")
def paper():
    return yaml.safe_load(PAPER.read_text())


@pytest.fixture(scope="module")
def planned(paper, tmp_path_factory):
    """(rule, output file) of every job `all` needs, planned in an empty folder with the hub
    switched off."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    workdir = tmp_path_factory.mktemp("paper-plan")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--summary", "all", "--configfile", str(PAPER),
         "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0][:3] == ["output_file", "date", "rule"], result.stdout[:500]
    # Planning wrote nothing but Snakemake's own bookkeeping.
    assert {p.name for p in workdir.iterdir()} <= {".snakemake"}
    return [(row[2], row[0]) for row in rows[1:]]


def matches(planned, rule):
    """The wildcards of every planned output of ``rule`` that matches its path pattern."""
    pattern = re.compile(PLANNED[rule])
    found = [pattern.fullmatch(path) for r, path in planned if r == rule]
    return [m.groupdict() for m in found if m]


def test_paper_config_is_valid(paper):
    check_config(paper, SCHEMA)
    jsonschema.Draft202012Validator(yaml.safe_load(SCHEMA.read_text())).validate(paper)


def test_paper_config_is_the_papers_setup(paper):
    models = paper["models"]
    assert {spec["hub_id"] for spec in models.values()} == HUB_IDS
    for name, spec in models.items():
        assert spec["source"] == "hub", name
        assert spec["quantization"] == "nf4", name
        assert spec["dtype"] == "bfloat16", name
    assert {paper["tasks"][t].get("builtin", t) for t in paper["tasks"]} == set(BUILTIN_TASKS)
    assert set(paper["lora"]["target_modules"]) == PROJECTIONS
    assert paper["lora"].get("top_layers") is None
    for stage in ("sft", "dpo"):
        assert paper[stage]["mixed_precision"] == "bf16", stage
    assert paper["dpo"]["loss_type"] == ["sigmoid"]


def test_paper_study_plans_every_model_task_and_method(paper, planned):
    models, tasks = set(paper["models"]), set(paper["tasks"])
    seeds = [str(s) for s in paper.get("seeds") or [paper.get("seed", 0)]]

    def keyed(found, *keys):
        # Outputs without a seed level belong to the one seed.
        return [(*(m[k] for k in keys), m["seed"] or seeds[0]) for m in found]

    assert {m["model"] for m in matches(planned, "model")} == models
    assert {m["task"] for m in matches(planned, "data")} == tasks
    every_run = set(itertools.product(models, tasks, seeds))
    for rule in ("sft", "pairs", "dpo", "stats"):
        found = keyed(matches(planned, rule), "model", "task")
        assert set(found) == every_run and len(found) == len(every_run), rule
    for rule in ("generate", "score"):
        found = keyed(matches(planned, rule), "model", "task", "method")
        # The base model trains nothing: it is generated once, not once per seed.
        expected = {(m, t, x, seeds[0]) for m, t in itertools.product(models, tasks)
                    for x in METHODS if x == "base"}
        expected |= {(m, t, x, s) for m, t, s in every_run for x in METHODS if x != "base"}
        assert set(found) == expected and len(found) == len(expected), rule
    summary = {path for rule, path in planned if rule == "summary"}
    assert {"results/summary/table.md", "results/summary/table.csv"} <= summary
