"""Tuning on validation (sftdpo.selection, workflow/rules/selection.smk): listed settings become
candidates, each scored on the validation split; the best per method goes on to the test split;
selection never reads the test split; with single values a stage has one candidate, adopted
without any validation job, and the rules are the same."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from sftdpo.config import ConfigError, check_config
from sftdpo.selection import (
    budget_note,
    candidate_name,
    candidates,
    scalar_settings,
    select,
    selection_record,
    selection_table,
)

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
# The selection jobs: everything a choice depends on after the data and the chosen SFT.
SELECTION_RULES = ("sft", "dpo", "validate_candidate", "score_candidate", "select_candidate")
# What only a tuned stage runs: its candidates' validation and the choice among them.
VALIDATION_RULES = ("validate_candidate", "score_candidate", "select_candidate",
                    "selection_table")


def default_config() -> dict:
    """The default experiment with the schema's defaults filled in, as the workflow reads it."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate(config, str(SCHEMA))
    return config


def test_listed_settings_make_a_grid_in_the_order_listed():
    grid = candidates("dpo", {"beta": [0.05, 0.1, 0.3], "learning_rate": [5e-5, 1e-4],
                              "epochs": 1})
    assert [name for name, _ in grid] == [
        "beta0.05_lr5e-05", "beta0.05_lr0.0001", "beta0.1_lr5e-05", "beta0.1_lr0.0001",
        "beta0.3_lr5e-05", "beta0.3_lr0.0001"]
    assert grid[1][1] == {"beta": 0.05, "learning_rate": 1e-4}
    assert candidates("sft", {"learning_rate": [2e-4, 1e-3]}) == [
        ("lr0.0002", {"learning_rate": 2e-4}), ("lr0.001", {"learning_rate": 1e-3})]
    assert candidate_name({"beta": 0.1}) == "beta0.1"


def test_single_values_and_lists_of_one_tune_nothing():
    assert candidates("sft", {"learning_rate": 2e-4, "epochs": 2}) == []
    assert candidates("dpo", {"learning_rate": [5e-5], "beta": [0.1]}) == []
    assert scalar_settings({"learning_rate": [5e-5], "beta": 0.1, "loss_type": ["sigmoid", "sft"]}
                           ) == {"learning_rate": 5e-5, "beta": 0.1,
                                 "loss_type": ["sigmoid", "sft"]}


def test_the_best_validation_score_wins_ties_to_the_cheaper_then_the_first():
    assert select(["a", "b", "c"], [0.5, 0.7, 0.6], [1, 1, 1]) == "b"
    assert select(["a", "b", "c"], [0.7, 0.7, 0.6], [3, 2, 1]) == "b"
    assert select(["a", "b"], [0.7, 0.7], [2, 2]) == "a"
    assert select(["a", "b"], [float("nan"), 0.1], [1, 1]) == "b"


def test_the_record_names_every_candidate_its_score_cost_and_the_choice():
    grid = candidates("sft", {"learning_rate": [2e-4, 1e-3]})
    record = selection_record("sft", "macro_f1", grid,
                              [{"macro_f1": 0.4, "accuracy": 0.9}, {"macro_f1": 0.6}],
                              [{"tokens": 100}, {"tokens": 100}])
    assert record["chosen"] == "lr0.001" and record["settings"] == {"learning_rate": 1e-3}
    assert record["cost"] == "tokens"
    assert [(c["candidate"], c["validation_score"], c["chosen"]) for c in record["candidates"]
            ] == [("lr0.0002", 0.4, False), ("lr0.001", 0.6, True)]
    # FLOPs decide a tie where every record has them.
    record = selection_record("sft", "macro_f1", grid, [{"macro_f1": 0.5}] * 2,
                              [{"tokens": 1, "flops": 9.0}, {"tokens": 2, "flops": 8.0}])
    assert (record["cost"], record["chosen"]) == ("flops", "lr0.001")
    table = selection_table([({"model": "m", "task": "t", "seed": 0}, record)],
                            {"sft": {"learning_rate": [2e-4, 1e-3]}, "dpo": {"beta": 0.1}})
    assert table["chosen"].tolist() == [False, True]
    assert table["beta"].isna().all()


@pytest.mark.parametrize("key", ["sft.learning_rate", "dpo.learning_rate", "dpo.beta"])
def test_the_tunable_keys_take_a_number_or_a_list_of_numbers(key):
    stage, name = key.split(".")
    for value in (1e-4, [1e-4, 3e-4], [0.5]):
        config = default_config()
        config[stage][name] = value
        check_config(config, SCHEMA)
    for value in ([], [0], [1e-4, "x"], [1e-4, 1e-4]):
        config = default_config()
        config[stage][name] = value
        with pytest.raises(ConfigError, match=key):
            check_config(config, SCHEMA)


def test_other_stage_keys_take_no_list():
    config = default_config()
    config["sft"]["epochs"] = [1, 2]
    with pytest.raises(ConfigError, match="sft.epochs"):
        check_config(config, SCHEMA)


def dry_run_jobs(workdir: Path, config: dict) -> list[dict]:
    """The jobs a dry run of ``all`` plans: rule and inputs."""
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "-n", "--cores", "2", "all"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = []
    for line in result.stdout.splitlines():
        if line.startswith(("rule ", "localrule ")):
            jobs.append({"rule": line.split()[1].rstrip(":"), "input": []})
        elif line.startswith("    input: ") and jobs:
            jobs[-1]["input"] = line.removeprefix("    input: ").split(", ")
    return jobs


def test_no_selection_job_reads_the_test_split(tmp_path):
    config = default_config()
    config["tasks"] = {"provider_triage": config["tasks"]["provider_triage"]}
    config["sft"]["learning_rate"] = [2e-4, 1e-3]
    # The grid is these two keys (the default config may tune other keys too).
    config["dpo"]["learning_rate"] = 5e-5
    config["dpo"]["beta"] = [0.05, 0.1, 0.3]
    jobs = dry_run_jobs(tmp_path, config)
    selection_jobs = [job for job in jobs if job["rule"] in SELECTION_RULES]
    assert {job["rule"] for job in selection_jobs} == set(SELECTION_RULES)
    for job in selection_jobs:
        assert not [f for f in job["input"] if f.endswith("test.jsonl")], job
    # Every candidate's answers are on the validation split; test answers come from the
    # adapter folders the chosen candidates are copied to.
    assert all("results/data/provider_triage/validation.jsonl" in job["input"]
               for job in jobs if job["rule"] == "validate_candidate")
    assert sum(job["rule"] == "validate_candidate" for job in jobs) == 2 + 3
    generate = [job for job in jobs if job["rule"] == "generate"]
    assert all("results/data/provider_triage/test.jsonl" in job["input"] for job in generate)
    assert {f for job in generate for f in job["input"] if "/adapters/" in f} == {
        "results/adapters/smollm2-135m/provider_triage/seed0/sft",
        "results/adapters/smollm2-135m/provider_triage/seed0/sft_matched",
        "results/adapters/smollm2-135m/provider_triage/seed0/dpo"}
    # The matched control continues the chosen SFT with the chosen SFT's settings.
    matched = next(job for job in jobs if job["rule"] == "sft_matched")
    assert "results/selection/smollm2-135m/provider_triage/seed0/sft/selected.json" in matched[
        "input"]


def test_single_values_plan_one_candidate_and_no_validation(tmp_path):
    """An untuned stage trains its one candidate, adopted as it is: nothing is generated or
    scored on validation, and the later stages read the adapters where they always do."""
    config = default_config()
    config["tasks"] = {"provider_triage": config["tasks"]["provider_triage"]}
    config["sft"]["learning_rate"] = [2e-4]
    config["dpo"]["learning_rate"] = 5e-5
    jobs = dry_run_jobs(tmp_path, config)
    assert {"sft", "dpo", "adopt_candidate", "generate"} <= {job["rule"] for job in jobs}
    assert not {job["rule"] for job in jobs} & set(VALIDATION_RULES)
    key = "smollm2-135m/provider_triage/seed0"
    assert sorted(job["input"] for job in jobs if job["rule"] == "adopt_candidate") == [
        [f"results/selection/{key}/{method}/default/adapter"] for method in ("dpo", "sft")]
    pairs = next(job for job in jobs if job["rule"] == "pairs")
    assert f"results/adapters/{key}/sft" in pairs["input"]


def list_rules(*configfiles: Path) -> str:
    result = subprocess.run([*SNAKEMAKE, "--list-rules", "--configfile", *map(str, configfiles)],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_tuned_and_an_untuned_config_define_the_same_rules():
    """One rule per stage whatever the config: the search (a tuned config) and the default."""
    untuned = list_rules(REPO / "config/config.yaml")
    assert list_rules(REPO / "config/config.yaml", REPO / "config/search.yaml") == untuned
    assert {*SELECTION_RULES, *VALIDATION_RULES, "adopt_candidate"} <= set(untuned.split())


def test_a_2x3_grid_runs_end_to_end_and_the_chosen_candidates_are_tested(tiny_model_dir,
                                                                         tmp_path):
    from workflow_runs import ONE_THREAD, command, tiny_config

    config = tiny_config(tiny_model_dir, {"provider_triage": {"n_items": 40}})
    config["sft"]["learning_rate"] = [2e-4, 1e-3]
    config["dpo"]["beta"] = [0.05, 0.1, 0.3]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(command(tmp_path, "all", *ONE_THREAD), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    run = tmp_path / "results"
    table = pd.read_csv(run / "summary/selection.csv")
    assert list(table["method"]) == ["sft"] * 2 + ["dpo"] * 3
    assert list(table["candidate"]) == ["lr0.0002", "lr0.001", "beta0.05", "beta0.1",
                                        "beta0.3"]
    assert table["learning_rate"].tolist() == [2e-4, 1e-3, 1e-3, 1e-3, 1e-3]
    assert table["metric"].eq("macro_f1").all() and table["validation_score"].notna().all()
    assert (table["tokens"] > 0).all()
    assert table.groupby("method")["chosen"].sum().to_dict() == {"dpo": 1, "sft": 1}
    assert ("Tuned on validation (SFT lr0.0002, lr0.001; DPO beta0.05, beta0.1, beta0.3)"
            in (run / "summary/table.md").read_text())
    key = "tiny/provider_triage/seed3"
    for method in ("sft", "dpo"):
        rows = table[table["method"] == method]
        chosen = rows.loc[rows["chosen"], "candidate"].item()
        best = rows["validation_score"].max()
        assert rows.loc[rows["chosen"], "validation_score"].item() == best
        assert rows.loc[rows["validation_score"] == best, "candidate"].iloc[0] == chosen
        # The adapter the test split is generated with is the chosen candidate's.
        weights = "adapter_model.safetensors"
        assert ((run / f"adapters/{key}/{method}" / weights).read_bytes()
                == (run / f"selection/{key}/{method}/{chosen}/adapter" / weights).read_bytes())
        assert (run / f"generations/{key}/{method}.jsonl").is_file()
        selected = json.loads((run / f"selection/{key}/{method}/selected.json").read_text())
        assert selected["chosen"] == chosen
    # Each candidate's outputs are cached: a second run has nothing to do.
    again = subprocess.run(command(tmp_path, "all", "--dry-run"), capture_output=True,
                           text=True, timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr
    # Rule sft trains every SFT candidate, as it trains the one of an untuned run.
    forced = subprocess.run(command(tmp_path, "all", "--dry-run", "--quiet", "rules",
                                    "--forcerun", "sft"), capture_output=True, text=True,
                            timeout=300)
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert re.search(r"^sft\s+2$", forced.stdout, re.MULTILINE), forced.stdout
    # Other test labels change no selection: the selection jobs rerun on them choose the same.
    test_split = run / "data/provider_triage/test.jsonl"
    items = [json.loads(line) for line in test_split.read_text().splitlines()]
    test_split.write_text("".join(json.dumps(item | {"provider": "scheduling"}) + "\n"
                                  for item in items))
    result = subprocess.run(
        command(tmp_path, "--forcerun", "select_candidate", "--allowed-rules",
                "select_candidate", "selection_table", "--", "results/summary/selection.csv"),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "select_candidate" in result.stderr
    pd.testing.assert_frame_equal(pd.read_csv(run / "summary/selection.csv"), table)


def test_the_search_overlay_tunes_the_default_over_candidates_that_hold_its_values(tmp_path):
    """config/search.yaml over config/config.yaml (as Snakemake merges several --configfile
    files) plans every candidate of both methods for every task, and the default's single
    learning rates and beta are candidates of that search (docs/benchmarks.md, "How the
    defaults were chosen")."""
    default = default_config()
    search = yaml.safe_load((REPO / "config/search.yaml").read_text())
    for method in ("sft", "dpo"):
        assert default[method]["learning_rate"] in search[method]["learning_rate"]
    assert default["dpo"]["beta"] in search["dpo"]["beta"]
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "-n", "--quiet", "rules", "--configfile",
         str(REPO / "config/config.yaml"), str(REPO / "config/search.yaml"), "--", "all"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    counts = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    n_tasks = len(default["tasks"])
    assert counts["sft"] == n_tasks * len(search["sft"]["learning_rate"])
    assert counts["dpo"] == (
        n_tasks * len(search["dpo"]["learning_rate"]) * len(search["dpo"]["beta"]))
    assert counts["select_candidate"] == counts["adopt_candidate"] == 2 * n_tasks
    # The same budget for both methods, on items the experiment does not report on.
    assert counts["sft"] == counts["dpo"]
    assert search["data_seed"] != default["data_seed"]


def test_unequal_tuning_budgets_are_flagged():
    assert budget_note({"sft": 4, "dpo": 4}) == ""
    assert budget_note({"sft": 1, "dpo": 1}) == ""
    note = budget_note({"sft": 2, "dpo": 4})
    assert "unequal tuning budgets (candidates on validation: SFT 2, DPO 4)" in note
