"""The workflow on a real SLURM cluster through the shipped profile (``snakemake --profile slurm``):
every job becomes a SLURM job, and the results equal a local run's: the shared finished run's
(tests/conftest.py), whose my_messages task the SLURM run repeats in the same config, as far as
its SFT model's metrics and its preference pairs (TARGETS).

The cluster is one node on this machine, started by .ci/slurm/start-single-node.sh (a no-op when
one is already up); the module is skipped, with the script's reason, only where SLURM cannot be
installed (not root, no apt-get, the packages fail to install)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sftdpo.model_rules import MODEL_RULES
from workflow_runs import (
    PROFILE,
    REPO,
    SNAKEMAKE,
    THREADS,
    gpu_rules,
    profile_resources,
    profile_settings,
    tiny_config,
    write_user_files,
)

START_CLUSTER = REPO / ".ci/slurm/start-single-node.sh"
# The finished run's task the SLURM run repeats: a label task over a user's CSV file.
TASK = "my_messages"
# Its targets there: every kind of job up to a scored model, CPU rules (data, model,
# check_context, the candidate's adoption, score) and model rules (sft, pairs, generate). The
# rest of the DAG adds the same kinds of job one after another, each waiting on SLURM's status
# checks; the local runs cover it.
TARGETS = (f"results/metrics/tiny/{TASK}/seed3/sft.json", f"results/pairs/tiny/{TASK}/seed3.jsonl")
# The GPU rules' threads (THREADS) in both runs are the same, since torch's results may depend
# on them; one, so that two jobs share the test machine's two cores.
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")


def dry_run_jobs(workdir: Path, *profile: str) -> list[tuple[str, dict]]:
    """(rule, resources) of every job a dry run plans in ``workdir``, with the given profile
    options."""
    result = subprocess.run(
        [*SNAKEMAKE, *profile, "--directory", str(workdir), "--configfile",
         str(workdir / "config.yaml"), "--dry-run", "all"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs, rule, threads = [], None, {}
    for line in result.stdout.splitlines():
        if match := re.match(r"(?:local)?rule (\w+):$", line):
            rule, threads = match.group(1), {}
        elif line.strip().startswith("threads: "):
            threads = {"threads": line.strip()[len("threads: "):]}
        elif line.strip().startswith("resources: ") and rule:
            pairs = (item.split("=", 1) for item in line.strip()[len("resources: "):].split(", "))
            jobs.append((rule, dict(pairs) | threads))
            rule = None
    return jobs


def sbatch_call(resources: dict) -> str:
    """The sbatch command the installed plugin builds for a planned job's resources (as a dry
    run prints them): its submit command and its GPU request."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Resources(dict):
        __getattr__ = dict.__getitem__

    job = SimpleNamespace(threads=1, resources=Resources(
        {key: int(value) if value.isdigit() else value for key, value in resources.items()}))
    params = {"run_uuid": "run", "slurm_logfile": "job.log", "comment_str": "rule",
              "account": "", "partition": "", "workdir": "."}
    return get_submit_command(job, params) + set_gres_string(job)


def test_profile_gives_every_gpu_rule_a_gpu_and_its_own_limits(tiny_model_dir, tmp_path):
    """The profile's per-rule entries name exactly the rules that declare a GPU in the workflow,
    and give each its cores, memory and time; every other job takes the defaults and no GPU.
    A training rule declares a GPU for each of its stage's processes: 1 by default, and in the
    tuned config here 2 for SFT (and the matched control) and 4 for DPO, with 8 threads each;
    sbatch (the installed plugin's command) asks for them on one node, 8 cores per GPU, one
    task (the job's process starts the others). A dry run plans without a cluster, with the
    site settings left unset."""
    tasks = {"provider_triage": {"n_items": 40}, "hospital_course_summary": {"n_items": 30}}
    config = tiny_config(tiny_model_dir, tasks)
    # A tuned config also plans the candidates' validation (validate_candidate): both together
    # plan every rule that declares a GPU.
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    (tuned / "config.yaml").write_text(yaml.safe_dump(
        config | {"sft": {**config["sft"], "learning_rate": [2e-4, 1e-3], "processes": 2},
                  "dpo": {**config["dpo"], "learning_rate": [1e-5, 5e-5], "processes": 4}}))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    processes = {tmp_path: {}, tuned: {"sft": 2, "sft_matched": 2, "dpo": 4}}
    local = {workdir: dry_run_jobs(workdir, "--cores", "64") for workdir in processes}
    declaring_gpu = {rule for jobs in local.values() for rule, res in jobs
                     if res.get("gpu", "0") != "0"}
    assert declaring_gpu == set(gpu_rules()) == set(MODEL_RULES)
    for workdir, jobs in local.items():
        for rule, res in jobs:
            if rule in declaring_gpu:
                gpus = processes[workdir].get(rule, 1)
                assert (res["gpu"], res["threads"]) == (str(gpus), str(8 * gpus)), rule
    defaults = profile_resources("default-resources")
    jobs = [(workdir, job) for workdir in processes
            for job in dry_run_jobs(workdir, "--profile", "slurm")]
    assert {rule for _, (rule, _) in jobs} > declaring_gpu | {"all"}
    for workdir, (rule, res) in jobs:
        if rule == "all":
            continue
        if rule in declaring_gpu:
            gpus = processes[workdir].get(rule, 1)
            assert res["gpu"] == str(gpus) and {"cpus_per_gpu", "mem_mb", "runtime"} <= set(res)
            assert (res["mem_mb"], res["runtime"]) != (defaults["mem_mb"], defaults["runtime"])
            call = sbatch_call(res).split()
            assert {f"--gpus={gpus}", "--cpus-per-gpu=8", "--nodes=1"} <= set(call), call
            assert not any(arg.startswith(("--ntasks", "--gres")) for arg in call), call
        else:
            assert not {"gpu", "gpu_model", "cpus_per_gpu"} & set(res), rule
            assert (res["mem_mb"], res["runtime"]) == (defaults["mem_mb"], defaults["runtime"])


def test_a_local_run_with_fewer_gpus_than_a_stages_processes_is_refused(tiny_model_dir,
                                                                        tmp_path):
    """Snakemake would cut a job's gpu=4 to --resources gpu=2; the plan refuses it instead."""
    config = tiny_config(tiny_model_dir, {"provider_triage": {"n_items": 40}})
    config["dpo"]["processes"] = 4
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    refused = subprocess.run(
        [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
         "--cores", "8", "--resources", "gpu=2", "--dry-run", "--", "all"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert ("a training job cannot have a GPU for each of its processes (sftdpo.launch): "
            "dpo.processes: 4, one GPU each, but --resources gpu=2") in refused.stdout


def test_the_profile_gives_a_gpu_to_exactly_the_model_rules():
    """The GPU rules are named in one place (sftdpo.model_rules), which the Makefile reads; the
    profile's entries are those rules, each with a GPU."""
    assert sorted(profile_resources("set-resources")) == sorted(gpu_rules()) == sorted(MODEL_RULES)
    makefile = (REPO / "Makefile").read_text()
    assert "MODEL_RULES := $(shell $(PYTHON) workflow/sftdpo/model_rules.py)" in makefile
    printed = subprocess.run([sys.executable, str(REPO / "workflow/sftdpo/model_rules.py")],
                             capture_output=True, text=True, check=True).stdout
    assert printed.split() == list(MODEL_RULES)


def test_site_settings_reach_the_jobs_they_are_for(tmp_path):
    """Set in the profile's one site block, account and partition go to every job, the GPU
    partition and GPU model to the GPU rules only."""
    text = (PROFILE / "config.yaml").read_text()
    site = {"account": "proj1", "partition": "cpu", "gpu_partition": "gpu", "gpu_model": "a100"}
    for key, value in site.items():
        text, count = re.subn(rf"^  {key}: null$", f"  {key}: {value}", text, flags=re.MULTILINE)
        assert count == 1, key
    (tmp_path / "config.yaml").write_text(text)
    settings = profile_settings(tmp_path / "config.yaml")
    assert {"slurm_account='proj1'", "slurm_partition='cpu'"} <= set(settings["default-resources"])
    for rule in gpu_rules():
        assert {f"{rule}:gpu_model='a100'", f"{rule}:slurm_partition='gpu'"} <= set(
            settings["set-resources"])
    assert not any("gpu_model" in entry or "slurm_" in entry
                   for entry in profile_settings()["default-resources"])


@pytest.fixture(scope="module")
def slurm_cluster() -> dict:
    """A running SLURM cluster (started here if there is none); its ``scontrol show config``."""
    started = subprocess.run(["bash", str(START_CLUSTER)], capture_output=True, text=True,
                             timeout=600)
    if started.returncode == 3:
        print(started.stderr)
        pytest.skip(f"no SLURM cluster on this machine: {started.stderr.strip()}")
    assert started.returncode == 0, started.stdout + started.stderr
    shown = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True,
                           check=True).stdout
    return dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", shown, flags=re.MULTILINE))


def slurm_command(workdir: Path) -> list[str]:
    """The documented command, from the repository root, plus what a cluster without GPUs and
    without an accounting database needs: no GPU request (and the local run's threads) for the
    GPU rules, job states from squeue, and short waits between status checks."""
    rules = gpu_rules()
    return [*SNAKEMAKE, *TARGETS, "--profile", "slurm", "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"),
            "--slurm-status-command", "squeue",
            "--slurm-init-seconds-before-status-checks", "1",
            "--slurm-keep-successful-logs", "--verbose",
            "--set-resources", *[f"{rule}:gpu=0" for rule in rules],
            "--set-threads", *[f"{rule}={THREADS}" for rule in rules]]


def planned_rules(workdir: Path) -> list[str]:
    """The rule of every job a local dry run of the TARGETS plans in ``workdir``."""
    result = subprocess.run(
        [*SNAKEMAKE, *TARGETS, "--directory", str(workdir), "--configfile",
         str(workdir / "config.yaml"), "--cores", "2", "--dry-run"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return re.findall(r"^(?:local)?rule (\w+):$", result.stdout, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def runs(slurm_cluster, tiny_model_dir, tmp_path_factory, request) -> dict:
    """The finished run's my_messages task up to TARGETS, in the finished run's config, through
    SLURM and, at the same time, locally: "slurm" to (work folder, Snakemake's output),
    "planned" to the rules of the jobs a local dry run plans in that folder first, "local" to
    the finished run's folder (tests/conftest.py; built while SLURM runs where no test has
    built it yet)."""
    workdir = tmp_path_factory.mktemp("slurm")
    tasks = {TASK: write_user_files(workdir)[TASK]}
    (workdir / "config.yaml").write_text(yaml.safe_dump(tiny_config(tiny_model_dir, tasks)))
    runs = {"planned": planned_rules(workdir)}
    with (workdir / "snakemake.out").open("w") as out:
        process = subprocess.Popen(slurm_command(workdir), cwd=REPO, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        runs["local"] = request.getfixturevalue("finished_run")
        process.wait(timeout=1200)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    runs["slurm"] = (workdir, (workdir / "snakemake.out").read_text())
    assert process.returncode == 0, f"slurm run failed:\n{runs['slurm'][1][-6000:]}"
    return runs


def test_every_job_ran_as_a_slurm_job(runs, slurm_cluster):
    workdir, output = runs["slurm"]
    submitted = SUBMITTED.findall(output)
    # The plugin's log of each job: .snakemake/slurm_logs/rule_RULE/WILDCARDS/JOBID.log
    logs = {job_id: Path(log).relative_to(workdir / ".snakemake/slurm_logs")
            for job_id, log in submitted}
    rules = {job_id: log.parts[0].removeprefix("rule_") for job_id, log in logs.items()}
    # One SLURM job per job a local run plans, of every kind TARGETS names; none runs in
    # Snakemake itself.
    assert set(runs["planned"]) == {"data", "model", "check_context", "sft", "adopt_candidate",
                                    "pairs", "generate", "score"}
    assert sorted(rules.values()) == sorted(runs["planned"])
    assert not re.findall(r"^localrule (\w+):$", output, flags=re.MULTILINE)
    for job_id, log in logs.items():
        assert log.name == f"{job_id}.log"
        text = (workdir / ".snakemake/slurm_logs" / log).read_text()
        # Inside the job, the same interpreter (so the same venv and package) ran the rule.
        assert f"{sys.executable} -m snakemake" in text
        assert f"rule {rules[job_id]}:" in text
    finished = job_records(slurm_cluster, [job_id for job_id, _ in submitted])
    for job_id, _ in submitted:
        assert finished[job_id]["JobState"] == "COMPLETED", finished[job_id]
        assert finished[job_id]["WorkDir"] == str(workdir)


def job_records(cluster: dict, job_ids: list[str]) -> dict:
    """SLURM's record of each job: the job-completion log where the cluster writes one (as the
    start script's does), else the controller's memory of recent jobs."""
    records = {}
    if cluster.get("JobCompType") == "jobcomp/filetxt":
        for line in Path(cluster["JobCompLoc"]).read_text().splitlines():
            record = dict(re.findall(r"(\w+)=(\S*)", line))
            records[record["JobId"]] = record
    else:
        for job_id in job_ids:
            shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True,
                                   text=True, check=True).stdout
            records[job_id] = dict(re.findall(r"(\w+)=(\S*)", shown))
    return records


def test_sbatch_got_the_profiles_resources(runs):
    """CPU rules: the profile's default memory and time limit. GPU rules: no GPU asked here (the
    test's override), the cores of their threads, and their own memory estimate
    (sftdpo.memory_estimate, the rules' mem_mb)."""
    calls = re.findall(r"^sbatch call: (.*)$", runs["slurm"][1], flags=re.MULTILINE)
    defaults = profile_resources("default-resources")
    assert calls
    for call in calls:
        rule = re.search(r"--comment rule_([a-z_]+?)(?:_wildcards_\S+)? ", call).group(1)
        model_job = rule in gpu_rules()
        assert f" -t {defaults['runtime']} " in call
        memory = int(re.search(r" --mem (\d+) ", call).group(1))
        assert memory == int(defaults["mem_mb"]) if not model_job else memory > 0
        assert "--gpus" not in call and "--gres" not in call
        cores = THREADS if model_job else 1
        assert f"--cpus-per-task={cores}" in call


def close(a, b) -> bool:
    """Equal, numbers to 1e-9 (relative), in nested JSON values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(close, a, b))
    if isinstance(a, float | int) and isinstance(b, float | int):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


def relative_files(root: Path, pattern: str) -> list[Path]:
    return sorted(path.relative_to(root) for path in root.glob(pattern))


def test_slurm_results_equal_the_local_run(runs):
    """Same numbers either way: the trained adapter, the preference pairs and the generations
    byte for byte, the predictions' answers, and the metrics to 1e-9. The local run (the
    finished run) went on to the whole DAG of three tasks: the SLURM run's files are among its
    files."""
    slurm, local = runs["slurm"][0], runs["local"]
    for pattern in ("results/adapters/**/adapter_model.safetensors", "results/pairs/**/*.jsonl",
                    "results/generations/**/*.jsonl", "results/predictions/**/*.jsonl",
                    "results/metrics/**/*.json"):
        paths = relative_files(slurm, pattern)
        assert paths and set(paths) <= set(relative_files(local, pattern)), pattern
        for path in paths:
            assert TASK in path.parts or path.stem == TASK, path
            if path.parts[1] in ("adapters", "pairs", "generations"):
                assert (slurm / path).read_bytes() == (local / path).read_bytes(), path
            elif path.parts[1] == "predictions":
                fields = ("id", "prediction", "parsed", "score")
                rows = [[tuple(json.loads(line)[key] for key in fields)
                         for line in (root / path).read_text().splitlines()]
                        for root in (slurm, local)]
                assert rows[0] and rows[0] == rows[1], path
            else:
                assert close(json.loads((slurm / path).read_text()),
                             json.loads((local / path).read_text())), path
