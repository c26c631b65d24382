"""The memory estimate of the model jobs (sftdpo.memory_estimate, sftdpo.job_memory): its
figures against the peaks a default run measured, Snakemake's mem_mb, the refusal of a job that
cannot fit (in the plan and at the job's start), and the console's word on a job the kernel
killed."""

import json
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from sftdpo.job_memory import (
    NOTE_PREFIX,
    MemoryRefusal,
    check_job,
    killed_jobs_report,
    rule_job,
)
from sftdpo.memory_estimate import Job, estimate
from sftdpo.model_shape import EMBEDDED_CONFIG, ModelShape
from sftdpo.token_lengths import Lengths, data_lengths
from workflow_runs import REPO, tiny_config

SMOLLM2 = ModelShape.from_config(EMBEDDED_CONFIG)
SDPA = {"source": "embedded", "dtype": "bfloat16", "quantization": "none", "attention": "sdpa"}
EAGER = SDPA | {"attention": "eager"}
LORA = {"top_layers": 8}
STAGE = {"batch_size": 8, "gradient_checkpointing": False, "share_prompt": True,
         "group_by_length": True}


def lengths(prompt, answer, prompt_mean, answer_mean, shared, longest=(), scored=0):
    return Lengths(prompt=prompt, answer=answer, prompt_mean=prompt_mean,
                   answer_mean=answer_mean, shared=shared, longest=tuple(longest),
                   scored=scored, measured=True)


# Jobs of the default run (config/config.yaml, on a 2-core AVX2 CPU: bfloat16 computed in
# float32), their data's lengths as sftdpo.token_lengths counts them, and the peak (VmHWM, MiB)
# each job's compute record measured: the calibration figures (tests/benchmarks/memory.py
# prints them all).
CALIBRATION = [
    ("sft", EAGER, lengths(270, 5, 164, 4, 85, [274, 217, 210, 208, 207, 205, 205, 205]), 2253),
    ("sft", SDPA, lengths(378, 92, 281, 77, 53, [460, 444, 441, 439, 438, 438, 432, 427]),
     4127),
    ("dpo", EAGER, lengths(183, 4, 178, 4, 71), 2218),
    ("dpo", SDPA, lengths(378, 98, 281, 84, 53), 5554),
    ("pairs", EAGER, lengths(295, 19, 214, 8, 29, scored=54), 1827),
    ("generate", EAGER, lengths(292, 13, 212, 8, 29, scored=54), 1969),
]


def calibration_job(rule, spec, data):
    answering = {"batch_size": 16, "scores": True}
    if rule in ("sft", "dpo"):
        return rule_job(rule, name=rule, config=EMBEDDED_CONFIG, spec=spec, lengths=data,
                        settings=STAGE, lora=LORA)
    return rule_job(rule, name=rule, config=EMBEDDED_CONFIG, spec=spec, lengths=data,
                    **answering)


@pytest.mark.parametrize(("rule", "spec", "data", "measured"), CALIBRATION,
                         ids=[f"{c[0]}-{c[1]['attention']}" for c in CALIBRATION])
def test_the_estimate_meets_the_peaks_a_default_run_measured(monkeypatch, rule, spec, data,
                                                              measured):
    monkeypatch.setattr("sftdpo.memory_estimate.cpu_native_bfloat16", lambda: False)
    found = estimate(calibration_job(rule, spec, data), "cpu")
    assert found.host == pytest.approx(measured, rel=0.25)
    assert found.gpu is None and found.mem_mb == pytest.approx(found.host * 1.048576, abs=1)


def test_the_model_is_counted_from_its_config():
    assert SMOLLM2.parameters == pytest.approx(134.5e6, rel=0.001)
    untied = ModelShape.from_config(EMBEDDED_CONFIG | {"tie_word_embeddings": False})
    assert untied.parameters - SMOLLM2.parameters == 49152 * 576


def test_the_estimate_grows_with_what_the_job_holds(monkeypatch):
    """Batch, prompt length, answer length and the weights' bytes each add to the estimate;
    NF4 and a GPU's bfloat16 make the weights smaller; on a GPU the GPU memory is estimated
    too, and the host holds the runtime and the model while it loads."""
    monkeypatch.setattr("sftdpo.memory_estimate.cpu_native_bfloat16", lambda: False)
    data = lengths(300, 20, 300, 20, 0, [320] * 8)
    job = calibration_job("sft", SDPA, data)

    def host(**changes):
        return estimate(Job(**{**job.__dict__, **changes}), "cpu").host

    base = host()
    assert host(batch_size=16) > base and host(batch_size=4) < base
    assert host(lengths=lengths(600, 20, 600, 20, 0, [620] * 8)) > base
    assert host(lengths=lengths(300, 80, 300, 80, 0, [380] * 8)) > base
    assert host(quantization="nf4") < base
    assert host(attention="eager") > base
    gpu = estimate(job, "cuda")
    assert gpu.gpu is not None and gpu.gpu < base
    assert gpu.host > gpu.parts["weights"]


def test_data_lengths_count_the_longest_item_and_the_shared_start(tiny_model_dir, tmp_path):
    from sftdpo.tasks import load_task

    task = load_task("provider_triage", {})
    items = task.build_items(20, 0)
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    counted = data_lengths("items", path, tiny_model_dir, task, candidates=True)
    assert counted.measured
    assert counted.prompt >= counted.mean_prompt > counted.shared > 0
    assert counted.longest[0] == max(counted.longest) <= counted.prompt + counted.answer
    assert counted.scored >= len(task.labels) * 2


def write_config(tmp_path, tiny_model_dir, **changes):
    tasks = {"provider_triage": {"n_items": 40}, "hospital_course_summary": {"n_items": 30}}
    config = tiny_config(tiny_model_dir, tasks) | changes
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return config


def dry_run(tmp_path, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
         "--cores", "2", "--dry-run", "all"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})})


def test_every_model_job_asks_snakemake_for_its_memory(tiny_model_dir, tmp_path):
    write_config(tmp_path, tiny_model_dir)
    result = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    resources = {}
    for rule, line in re.findall(r"^(?:local)?rule (\w+):\n(?:.*\n)*?\s+resources: (.*)$",
                                 result.stdout, flags=re.MULTILINE):
        resources.setdefault(rule, []).append(dict(item.split("=", 1)
                                                   for item in line.split(", ")))
    model_rules = {"sft", "pairs", "dpo", "sft_matched", "generate", "judge"}
    assert model_rules <= set(resources)
    for rule in model_rules:
        for job in resources[rule]:
            # The tiny model's jobs: the Python runtime and a little more.
            assert 400 < int(job["mem_mb"]) < 4000, (rule, job)
    assert all("mem_mb" not in job for rule in ("data", "score") for job in resources[rule])


def test_a_job_past_the_machines_memory_is_refused_before_any_job(tiny_model_dir, tmp_path):
    """A machine of 1.5 GB (SFTDPO_HOST_MEMORY_MB) and items of up to 4096 tokens in SFT
    batches of 32 (about 1.7 GiB for the tiny model): the plan stops, naming each job that
    cannot fit, its estimate and the machine's memory, and what would make it fit."""
    write_config(tmp_path, tiny_model_dir, context_length=4096,
                 sft={"epochs": 1, "batch_size": 32, "mixed_precision": "none",
                      "learning_rate": 1e-3})
    result = dry_run(tmp_path, {"SFTDPO_HOST_MEMORY_MB": "1500"})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "cannot fit this machine's memory and are refused before any job starts" in output
    refused = re.search(r"- sft of tiny, task hospital_course_summary, seed 3 needs about "
                        r"([\d.]+) GiB at its peak, more than this machine's memory \(1\.4 GiB\)"
                        r".*To fit, change one of: (.*)", output)
    assert refused, output[-3000:]
    assert "sft.batch_size: 16 with sft.gradient_accumulation_steps doubled" in refused.group(2)
    assert "context_length" in refused.group(2)
    assert "rule sft:" not in result.stdout
    # On a machine that has the memory, the same plan goes through.
    assert dry_run(tmp_path, {"SFTDPO_HOST_MEMORY_MB": "64000"}).returncode == 0


class Files(dict):
    """A job's named inputs as a script sees them (snakemake.input.get)."""


def job_object(tmp_path, tiny_model_dir, config, rule="sft"):
    from sftdpo.tasks import load_task

    task = load_task("provider_triage", {})
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(item) + "\n" for item in task.build_items(30, 0)))
    return SimpleNamespace(rule=rule, config=config, wildcards=Files(
        model="tiny", task="provider_triage", seed="3"), input=Files(
        model=str(tiny_model_dir), train=str(train), meta=None))


def filled_config(tiny_model_dir, **changes):
    """A config with the schema's defaults, as a job's snakemake.config holds it."""
    from snakemake.utils import validate

    config = tiny_config(tiny_model_dir, {"provider_triage": {"n_items": 40}}) | changes
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_a_job_checks_itself_when_it_starts(tiny_model_dir, tmp_path, capsys):
    """start_job's check (sftdpo.runtime.check_memory): the estimate on the job's own data
    and what to change, on the first line of its log; refused where the machine is too
    small."""
    sm = job_object(tmp_path, tiny_model_dir, filled_config(tiny_model_dir))
    found = check_job(sm, "cpu", host_mib=64000)
    note = capsys.readouterr().out
    assert note.startswith(f"{NOTE_PREFIX} sft of tiny, task provider_triage, seed 3: "
                           f"estimated peak")
    assert "its longest item:" in note and "this machine 62.5 GiB" in note
    assert found.host < 4000
    with pytest.raises(MemoryRefusal, match=r"refused before it starts: sft of tiny, task "
                       r"provider_triage, seed 3 needs about .* more than this machine's "
                       r"memory \(200 MiB\)"):
        check_job(sm, "cpu", host_mib=200)


def test_a_job_the_kernel_killed_is_named_with_its_estimate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "sft.log").write_text(
        f"{NOTE_PREFIX} sft of m, task t, seed 0: estimated peak 18.6 GiB of memory; this "
        "machine 16.0 GiB. Were it to run out of memory, change one of: sft.batch_size: 4\n"
        "step 1\n")
    main_log = tmp_path / "snakemake.log"
    main_log.write_text(
        "RuleException:\nCalledProcessError in file \"workflow/rules/sft.smk\", line 5:\n"
        "Command 'set -euo pipefail;  python train_sft.py' died with <Signals.SIGKILL: 9>.\n"
        "[Sun Dec  6 07:14:53 2026]\nError in rule sft:\n    message: None\n    jobid: 5\n"
        "    log: logs/sft.log (check log file(s) for error details)\n"
        "Shutting down, this might take some time.\n")
    report = killed_jobs_report([main_log])
    assert report.startswith("The kernel killed a job of rule sft (log: logs/sft.log) (SIGKILL):"
                             " most likely it ran out of memory")
    assert "estimated peak 18.6 GiB" in report and "sft.batch_size: 4" in report
    main_log.write_text(main_log.read_text().replace("SIGKILL: 9", "SIGTERM: 15"))
    assert killed_jobs_report([main_log]) == ""
