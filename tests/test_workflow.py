"""The whole DAG through Snakemake on a tiny random model: every stage runs and writes the
results contract; a second run has nothing to do."""

import inspect
import json
import re
import subprocess

import pandas as pd
import pytest
import yaml

from conftest import SHARED_RUN_MODULES, scheduling_unit
from sftdpo.compute import RATIO_STAGES
from sftdpo.flops import matched_steps
from sftdpo.tasks import load_task_with_meta
from workflow_runs import (
    ONE_THREAD,
    REPO,
    SNAKEMAKE,
    snakemake,
    tiny_config,
)

# One task of each kind (the shared finished run, tests/conftest.py): a built-in choice task and
# two over user files (tests/workflow_runs.py), a CSV of portal messages (label) with its own
# column names and a JSONL of notes (summary) as real summary sets come: one-sentence references
# and no key facts (graded against the references' clauses; key facts:
# tests/test_task_summary.py). A built-in label task runs in the seeds test below; the finished
# run's my_messages also runs through SLURM in tests/test_slurm.py.
TASKS = ("clinical_reasoning", "my_messages", "my_summaries")
METHODS = ("base", "sft", "sft_matched", "dpo")


def test_the_modules_that_read_the_shared_run_share_a_worker():
    """conftest.SHARED_RUN_MODULES names them, so that `make test`'s workers build it once."""
    readers = {path.name for path in REPO.glob("tests/test_*.py")
               if re.search(r"\bfinished_run\b", path.read_text())}
    assert readers == set(SHARED_RUN_MODULES)
    # xdist's scheduler splits its collection by the method conftest's scheduler replaces.
    from xdist.scheduler import LoadScopeScheduling

    assert "self._split_scope(nodeid)" in inspect.getsource(LoadScopeScheduling.schedule)
    assert (scheduling_unit("tests/test_slurm.py::test_a")
            == scheduling_unit("tests/test_workflow.py::test_b[1]") != "tests/test_slurm.py")
    assert scheduling_unit("tests/test_config.py::test_c") == "tests/test_config.py"


def test_the_shared_run_was_a_module_project(finished_run):
    """Its project Snakefile names the checkout's workflow/Snakefile as a module; the tests
    below check its results, and find nothing left to do there for the checkout's own
    Snakefile."""
    snakefile = (finished_run / "Snakefile").read_text()
    assert "module sftdpo:" in snakefile and str(REPO / "workflow" / "Snakefile") in snakefile
    assert (finished_run / "results/summary/table.md").is_file()
    assert not (finished_run / "workflow").exists()


def test_predictions_follow_the_results_contract(finished_run):
    for task in TASKS:
        test_ids = [json.loads(line)["id"] for line in
                    (finished_run / f"results/data/{task}/test.jsonl").open()]
        for method in METHODS:
            path = finished_run / f"results/predictions/tiny/{task}/seed3/{method}.jsonl"
            records = [json.loads(line) for line in path.open()]
            assert [r["id"] for r in records] == test_ids
            for record in records:
                assert {"id", "prediction", "parsed", "reference", "score"} <= set(record)
            metrics = json.loads(
                (finished_run / f"results/metrics/tiny/{task}/seed3/{method}.json").read_text())
            assert metrics["n"] == len(test_ids)
            # The headline per-item metric is the mean of the records' scores.
            headline = "likert" if task == "my_summaries" else "accuracy"
            assert metrics[headline] == pytest.approx(
                sum(r["score"] for r in records) / len(records))
            low, high = metrics[f"{headline}_ci"]
            assert low <= metrics[headline] <= high
            if task == "my_summaries":
                assert all(1 <= r["score"] <= 5 and 0 <= r["rouge_l"] <= 1 for r in records)
                assert all(r["judge_grade"] in (None, 1, 2, 3, 4, 5) for r in records)
                assert metrics["judge_unparseable_rate"] == pytest.approx(
                    sum(r["judge_grade"] is None for r in records) / len(records))
            else:
                assert all(r["score"] in (0, 1) for r in records)


def test_stats_have_every_comparison_and_one_primary_hypothesis(finished_run):
    for task in TASKS:
        stats = pd.read_csv(finished_run / f"results/stats/tiny/{task}.csv")
        assert list(stats.columns)[:11] == ["comparison", "metric", "role", "a", "b", "diff",
                                            "ci_low", "ci_high", "ci_level", "test",
                                            "statistic"]
        assert set(stats["comparison"]) == {"base_vs_sft", "sft_vs_dpo", "sft_matched_vs_dpo",
                                            "sft_vs_sft_matched", "base_vs_dpo"}
        assert stats["p_value"].between(0, 1).all()
        primary = stats[stats["role"] == "primary"]
        assert len(primary) == 1 and primary["comparison"].iloc[0] == "sft_matched_vs_dpo"
        # Three tasks, one model: Bonferroni over 3 primary hypotheses.
        assert primary["p_adjusted"].iloc[0] == pytest.approx(
            min(1, 3 * primary["p_value"].iloc[0]))
        assert primary["ci_level"].iloc[0] == pytest.approx(1 - 0.05 / 3)
        assert stats.loc[stats["role"] == "secondary", "p_adjusted"].isna().all()
    tests = pd.read_csv(finished_run / "results/stats/tiny/my_summaries.csv").groupby(
        "metric")["test"].first()
    assert tests["likert"] == tests["judge_likert"] == "exact_sign_flip"
    assert tests["rouge_l"] == "sampled_sign_flip"  # 12 items: 2^12 > the 500 resamples


def test_summary_table_has_every_task_and_method(finished_run):
    table = pd.read_csv(finished_run / "results/summary/table.csv")
    assert set(table["task"]) == set(TASKS)
    for method in METHODS:
        assert f"tiny {method}" in table.columns
    assert {"tiny P dpo vs sft", "tiny P dpo vs sft_matched"} <= set(table.columns)
    assert (table.groupby("task")["role"].apply(lambda r: (r == "primary").sum()) == 1).all()
    assert set(table["family"]) == {"triage", "clinical_reasoning", "summarization"}
    assert set(table.loc[table["task"] == "my_summaries", "metric"]) == {"likert", "rouge_l",
                                                                          "judge_likert"}
    markdown = (finished_run / "results/summary/table.md").read_text()
    assert all(task in markdown for task in TASKS)


def test_figures_and_recommendations_are_drawn_for_every_task(finished_run):
    figures = finished_run / "results/figures"
    for task in TASKS:
        headline = "likert" if task == "my_summaries" else (
            "accuracy" if task == "clinical_reasoning" else "macro_f1")
        for stem in (headline, "tiny_seed3_training"):
            for suffix in (".png", ".svg"):
                assert (figures / task / (stem + suffix)).stat().st_size > 1000
    # Confusion matrices for the label tasks only.
    assert (figures / "my_messages/tiny_seed3_confusion.png").is_file()
    assert not (figures / "my_summaries/tiny_seed3_confusion.png").exists()
    recommendations = (finished_run / "results/summary/recommendations.md").read_text()
    assert recommendations.splitlines()[2].endswith("(forest.png)")
    assert all(f"- {task}, tiny: " in recommendations for task in TASKS)
    assert "x SFT's FLOPs" in recommendations and "SFT then DPO cost" in recommendations
    verdicts = pd.read_csv(finished_run / "results/summary/verdicts.csv")
    assert sorted(verdicts["task"]) == sorted(TASKS)
    assert set(verdicts["verdict"]) <= {"better", "worse", "equivalent", "inconclusive"}
    assert (finished_run / "results/summary/forest.png").stat().st_size > 1000
    page = (finished_run / "results/summary/summary.html").read_text()
    assert all(f"<td>{task}</td>" in page for task in TASKS) and "<strong>" in page


def test_compute_table_has_every_job_and_dpos_whole_extra_cost(finished_run):
    compute = pd.read_csv(finished_run / "results/summary/compute.csv")
    jobs = compute[~compute["stage"].isin(RATIO_STAGES)]
    per_task = jobs.groupby("task")["stage"].value_counts().unstack(fill_value=0)
    assert (per_task[["sft", "pairs", "dpo", "sft_matched"]] == 1).all().all()
    assert (per_task["generate"] == 4).all()
    assert per_task.loc["my_summaries", "judge"] == 4
    assert (jobs["device"] == "cpu").all() and jobs["accelerator_seconds"].isna().all()
    assert (jobs[["wall_seconds", "cpu_seconds", "peak_memory_mib"]] > 0).all().all()
    # The judge reads nothing where the tiny model wrote empty summaries; every other job does.
    assert (jobs.loc[jobs["stage"] != "judge", ["tokens", "flops"]] > 0).all().all()
    ratios = compute[compute["stage"] == "extra_over_sft"].set_index("task")
    assert sorted(ratios.index) == sorted(TASKS)
    stage = {name: jobs[jobs["stage"] == name].set_index("task")["flops"]
             for name in ("sft", "pairs", "dpo", "sft_matched")}
    extra = stage["pairs"] + stage["dpo"]
    assert ratios["flops"].to_dict() == pytest.approx((extra / stage["sft"]).to_dict())
    # The control trained for DPO's extra FLOPs, to within one of its steps.
    matched = compute[compute["stage"] == "matched_over_extra"].set_index("task")["flops"]
    assert matched.between(0.7, 1.3).all(), matched


def test_user_data_is_split_without_repeats_and_recorded(finished_run):
    meta = json.loads((finished_run / "results/data/my_messages/meta.json").read_text())
    assert meta["source"].endswith("messages.csv")
    assert meta["labels"] == ["nurse", "pharmacist", "physician", "scheduling"]
    assert sum(meta["counts"].values()) == 60
    texts = [json.loads(line)["text"] for split in ("train", "validation", "test")
             for line in (finished_run / f"results/data/my_messages/{split}.jsonl").open()]
    assert len(texts) == len(set(texts)) == 60


def test_training_stages_leave_adapters_and_logs(finished_run):
    for task in TASKS:
        for stage in ("sft", "sft_matched", "dpo"):
            adapter = finished_run / f"results/adapters/tiny/{task}/seed3/{stage}"
            assert (adapter / "adapter_model.safetensors").is_file()
            history = json.loads((adapter / "log_history.json").read_text())
            assert any("loss" in entry for entry in history)
        pairs = [json.loads(line) for line in
                 (finished_run / f"results/pairs/tiny/{task}/seed3.jsonl").open()]
        assert pairs and all(p["chosen"] != p["rejected"] for p in pairs)
        expected = "degraded_summary:" if task == "my_summaries" else "hardest_wrong_label"
        assert all(p["strategy"].startswith(expected) for p in pairs)
        counts = json.loads(
            (finished_run / f"results/pairs/tiny/{task}/seed3.counts.json").read_text())
        assert counts["pairs"] == len(pairs) == sum(counts["by"].values())
        assert counts["pairs"] + counts["dropped"] == counts["training_items"]
    log = (finished_run / "logs/pairs/tiny/my_summaries/seed3.log").read_text()
    assert f"{len(pairs)} of {counts['training_items']} training items paired by " in log


def test_summaries_without_key_facts_grade_the_reference_5(finished_run):
    meta = json.loads((finished_run / "results/data/my_summaries/meta.json").read_text())
    assert meta["grading"] == "reference_clauses"
    task = load_task_with_meta("my_summaries", {"family": "summarization", "data": {}},
                               finished_run / "results/data/my_summaries/meta.json")
    for split in ("train", "test"):
        for line in (finished_run / f"results/data/my_summaries/{split}.jsonl").open():
            item = json.loads(line)
            assert "key_facts" not in item and task.score(item, item["reference"])["score"] == 5
    table = (finished_run / "results/summary/table.md").read_text()
    assert "my_summaries, against its reference's clauses" in table
    assert (finished_run / "logs/sft/tiny/my_messages/seed3/default.log").stat().st_size > 0


def test_second_run_has_nothing_to_do(finished_run):
    result = snakemake(finished_run, "all", "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_forcerun_sft_retrains_sft_and_what_follows(finished_run):
    """Rule sft trains SFT in every run, tuned or not (tests/test_selection.py, tuned)."""
    result = snakemake(finished_run, "all", "--dry-run", "--quiet", "rules", "--forcerun", "sft")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()
               if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert planned["sft"] == str(len(TASKS)) and planned["adopt_candidate"] == str(2 * len(TASKS))
    assert {"pairs", "dpo", "sft_matched", "generate", "summary"} <= set(planned)
    assert not set(planned) & {"model", "data", "check_context", "validate_candidate"}


def test_several_seeds_repeat_training_and_report_mean_sd_and_each_seed(tiny_model_dir,
                                                                       finished_run):
    """Run as a second experiment in the finished run's folder (experiment: seeds): its
    results go under experiments/seeds/, and the first experiment's table stays as it was.
    DPO trains on 2 processes (gloo on this CPU; sftdpo.launch): its record is the whole job's,
    and the matched control matches it."""
    first_table = (finished_run / "results/summary/table.md").read_text()
    config = tiny_config(tiny_model_dir, {"provider_triage": {"n_items": 40}}) | {
        "seeds": [5, 6], "experiment": "seeds"}
    config["dpo"]["processes"] = 2
    (finished_run / "seeds.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([*SNAKEMAKE, "--directory", str(finished_run), "--configfile",
                             str(finished_run / "seeds.yaml"), "--cores", "2", "all",
                             *ONE_THREAD],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (finished_run / "results/summary/table.md").read_text() == first_table
    run = finished_run / "experiments/seeds/results"
    assert (run / "summary/table.md").is_file()
    assert (finished_run / "experiments/seeds/logs/sft/tiny/provider_triage/seed5/default.log"
            ).is_file()
    for seed in (5, 6):
        adapters = run / f"adapters/tiny/provider_triage/seed{seed}"
        for stage in ("sft", "sft_matched", "dpo"):
            assert (adapters / stage / "adapter_model.safetensors").is_file()
        records = {stage: json.loads((adapters / stage / "compute.json").read_text())
                   for stage in ("sft", "sft_matched", "dpo")}
        assert {stage: r["processes"] for stage, r in records.items()} == {
            "sft": 1, "sft_matched": 1, "dpo": 2}
        assert "training on 2 processes (DDP)" in (
            finished_run / f"experiments/seeds/logs/dpo/tiny/provider_triage/seed{seed}/"
            "default.log").read_text()
        # The control's steps: the pairs' and both DPO processes' FLOPs at SFT's per step.
        pairs = json.loads((run / f"pairs/tiny/provider_triage/seed{seed}.compute.json"
                            ).read_text())
        assert records["sft_matched"]["global_steps"] == matched_steps(
            records["sft"], pairs["flops"] + records["dpo"]["flops"])
    # The base model trains nothing: generated once, in the first seed's folder.
    assert (run / "predictions/tiny/provider_triage/seed5/base.jsonl").is_file()
    assert not (run / "predictions/tiny/provider_triage/seed6/base.jsonl").exists()
    by_seed = pd.read_csv(run / "summary/metrics_by_seed.csv")
    macro_f1 = by_seed[by_seed["metric"] == "macro_f1"].set_index(["seed", "method"])["value"]
    assert sorted(macro_f1.index) == [(5, "base"), (5, "dpo"), (5, "sft"), (5, "sft_matched"),
                                      (6, "dpo"), (6, "sft"), (6, "sft_matched")]
    row = pd.read_csv(run / "summary/table.csv").set_index("metric").loc["macro_f1"]
    for method in ("sft", "dpo"):
        values = [macro_f1[(seed, method)] for seed in (5, 6)]
        assert row[f"tiny {method}"] == pytest.approx(sum(values) / 2)
        assert row[f"tiny {method} sd"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5)
    # One test of each comparison over both seeds: the primary's P, adjusted (one hypothesis).
    stats = pd.read_csv(run / "stats/tiny/provider_triage.csv").set_index(
        ["comparison", "metric"])
    assert (stats["n_seeds"] == 2).all()
    assert row["tiny P dpo vs sft_matched"] == stats.loc[("sft_matched_vs_dpo", "macro_f1"),
                                                         "p_adjusted"]
    assert row["tiny P dpo vs sft"] == stats.loc[("sft_vs_dpo", "macro_f1"), "p_value"]
    assert (run / "figures/provider_triage/tiny_seed6_training.png").is_file()


def planned_after(finished_run, tmp_path, change) -> set[str]:
    """The rules a dry run plans after ``change`` edits the finished run's config."""
    config = yaml.safe_load((finished_run / "config.yaml").read_text())
    change(config)
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(finished_run), "--configfile", str(changed), "-n",
         "--quiet", "rules", "all"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split()[0] for line in result.stdout.splitlines() if line.strip()}


def test_a_dpo_setting_reruns_dpo_and_what_follows_not_sft(finished_run, tmp_path):
    planned = planned_after(finished_run, tmp_path,
                            lambda config: config["dpo"].update(beta=0.5))
    assert {"dpo", "generate", "score", "stats", "summary"} <= planned
    assert not planned & {"model", "data", "sft", "pairs"}


def test_a_margin_reruns_the_verdict_only(finished_run, tmp_path):
    planned = planned_after(finished_run, tmp_path, lambda config: config["tasks"][
        "my_messages"].update(margin=0.2))
    assert {"summary", "figure_forest"} <= planned
    assert not planned & {"model", "data", "sft", "pairs", "dpo", "sft_matched", "generate",
                          "score", "stats", "compute"}


def test_a_pair_setting_reruns_pairs_and_dpo_not_sft(finished_run, tmp_path):
    planned = planned_after(finished_run, tmp_path, lambda config: config["tasks"][
        "my_summaries"].update(pairs={"min_share": 0.4}))
    assert {"pairs", "dpo", "generate"} <= planned
    assert not planned & {"model", "data", "check_context", "sft"}
