"""Named targets run exactly the jobs they need: a stage, a task, a model (dry runs of the
default experiment with two training seeds)."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())
TASKS = list(DEFAULT["tasks"])
N_TASKS = len(TASKS)
N_SEEDS = 2
# Per task: base once; SFT, the matched control and DPO once per seed.
N_GENERATIONS = 1 + 3 * N_SEEDS
LABEL_TASKS = ("provider_triage", "urgency_triage", "radiology_finding", "breast_cancer")


def _count(value) -> int:
    return len(value) if isinstance(value, list) else 1


# Candidates per stage: a list of settings is tuned on validation (sftdpo.selection).
# A stage the config leaves out takes the schema's single values.
STAGES = {stage: DEFAULT.get(stage, {}) for stage in ("sft", "dpo")}
CANDIDATES = {"sft": _count(STAGES["sft"].get("learning_rate")),
              "dpo": _count(STAGES["dpo"].get("learning_rate")) * _count(STAGES["dpo"].get("beta"))}


def training(stage: str, runs: int) -> Counter:
    """The jobs that give ``runs`` (task, seed) runs their ``stage`` adapter: each candidate's
    training job and the chosen one's adoption; when tuned, every candidate also generated and
    scored on validation, and one choice."""
    k = CANDIDATES[stage]
    if k == 1:
        return Counter({stage: runs, "adopt_candidate": runs})
    return Counter({stage: k * runs, "validate_candidate": k * runs,
                    "score_candidate": k * runs, "select_candidate": runs,
                    "adopt_candidate": runs})


# The table of every candidate's validation score, when anything is tuned.
SELECTION_TABLE = Counter(selection_table=1) if max(CANDIDATES.values()) > 1 else Counter()


def planner(workdir: Path, config: dict):
    """The jobs a dry run of ``config`` in ``workdir`` plans for a target, counted by rule."""
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))

    def plan(target: str) -> Counter:
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
             "--directory", str(workdir), "-n", "--quiet", "rules", "--cores", "2", target,
             "--configfile", str(workdir / "config.yaml")],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        lines = result.stdout.splitlines()
        table = lines[lines.index("Job stats:") + 3:]
        counts = Counter()
        for line in table[:next(i for i, line in enumerate(table) if line.startswith("total"))]:
            rule, count = line.split()
            counts[rule] = int(count)
        return counts

    return plan


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """The jobs a dry run plans for a target, counted by rule."""
    return planner(tmp_path_factory.mktemp("targets"), DEFAULT | {"seeds": [0, 1]})


def test_a_stage_target_plans_that_stage_and_what_it_needs(planned):
    runs = N_TASKS * N_SEEDS
    assert planned("all_sft") == Counter(
        model=1, data=N_TASKS, check_context=N_TASKS, all_sft=1) + training("sft", runs)
    assert planned("all_dpo") == Counter(
        model=1, data=N_TASKS, check_context=N_TASKS, pairs=runs, all_dpo=1,
    ) + training("sft", runs) + training("dpo", runs)


def test_a_task_target_plans_that_task_only(planned):
    counts = planned("task_provider_triage")
    assert counts == Counter(
        model=1, data=1, check_context=1, pairs=N_SEEDS, sft_matched=N_SEEDS,
        generate=N_GENERATIONS, score=N_GENERATIONS, stats=1, figure_metric=2,
        figure_training=N_SEEDS, figure_confusion=N_SEEDS, task_provider_triage=1,
    ) + training("sft", N_SEEDS) + training("dpo", N_SEEDS)


def test_a_model_target_plans_its_comparisons_for_every_task(planned):
    runs = N_TASKS * N_SEEDS
    assert planned("model_smollm2-135m") == Counter(
        model=1, data=N_TASKS, check_context=N_TASKS, pairs=runs, sft_matched=runs,
        generate=N_TASKS * N_GENERATIONS, score=N_TASKS * N_GENERATIONS, stats=N_TASKS,
        **{"model_smollm2-135m": 1},
    ) + training("sft", runs) + training("dpo", runs)


def test_all_plans_every_seed_once_and_the_base_model_once(planned):
    counts = planned("all")
    assert counts["generate"] == N_TASKS * N_GENERATIONS
    # One test of each comparison over both seeds per task.
    assert counts["stats"] == N_TASKS
    assert counts["figure_confusion"] == len(LABEL_TASKS) * N_SEEDS
    assert counts["figure_forest"] == 1
    assert counts["summary"] == 1
    assert counts["selection_table"] == SELECTION_TABLE["selection_table"]


@pytest.mark.parametrize("target", ["task_provider_triage", "task_hospital_course_summary",
                                    *(f"model_{model}" for model in DEFAULT["models"])])
def test_an_experiment_name_moves_the_outputs_not_what_a_target_plans(planned, target,
                                                                       tmp_path_factory):
    """With ``experiment:`` set every output is under experiments/<name>/; a task's or a
    model's target still plans its stats tables and figures (picked by path, they were left
    out there)."""
    in_experiment = planner(tmp_path_factory.mktemp("experiment"),
                            DEFAULT | {"seeds": [0, 1], "experiment": "second"})
    assert in_experiment(target) == planned(target)
