"""A model job's memory from the workflow's config, checked before it starts.

Snakemake gets each model job's estimated peak (:func:`config_job`, then
:func:`sftdpo.memory_estimate.estimate`) as its rule's ``mem_mb`` (workflow/rules/resources.smk),
so jobs that do not fit in memory together do not start together (``--resources mem_mb=N``; a
local run's limit is the memory free when it starts unless given); a local run's plan refuses
every job that cannot fit the machine (or its GPU), and every model job checks again when it
starts (:func:`check_job`, from :func:`sftdpo.runtime.start_job`), with what to change. A job
the kernel kills for memory anyway is named on the console with the same advice (the
Snakefile's ``onerror``: :func:`killed_jobs_report`, from the line :func:`check_job` writes at
the top of its log).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from .launch import shards_weights, stage_launch
from .machine_memory import host_memory_mib
from .memory_estimate import (
    TRAINING_STAGES,
    Estimate,
    Job,
    advice,
    estimate,
    fit_problem,
    gib,
    lengths_note,
)
from .model_rules import MODEL_RULES
from .model_shape import model_config, shape_of
from .token_lengths import Lengths, bound_lengths, data_lengths

# The judge's rubric, its system prompt (sftdpo.judge.JUDGE_RUBRIC: about 170 tokens).
JUDGE_RUBRIC_TOKENS = 200

def _shards_weights(path: str | None) -> bool:
    """Whether the accelerate config file at ``path`` shards the weights; False where it
    cannot be read (the config check names it)."""
    try:
        return shards_weights(path)
    except (OSError, ValueError):
        return False


class MemoryRefusal(RuntimeError):
    """A model job that cannot fit the machine's memory (or its GPU's)."""


def rule_job(rule: str, *, name: str, config: Mapping | None, spec: Mapping,
             lengths: Lengths, settings: Mapping | None = None, lora: Mapping | None = None,
             batch_size: int | None = None, new_tokens: int = 0, scores: bool = False,
             second_model: bool = False) -> Job | None:
    """The :class:`Job` of a job of model rule ``rule`` (its model's ``config`` and entry
    ``spec``), from the config sections it reads: ``settings`` its training stage's section,
    ``lora`` the lora section, ``batch_size`` the answering batch (generation's or the
    judge's). None where the model's config is unknown or lacks what the estimate needs."""
    shape = shape_of(config)
    if shape is None:
        return None
    stage = MODEL_RULES[rule]
    common = {"stage": stage, "shape": shape, "dtype": spec.get("dtype") or "bfloat16",
              "quantization": spec.get("quantization") or "none",
              "attention": spec.get("attention") or "sdpa", "lengths": lengths, "name": name}
    if stage in TRAINING_STAGES:
        settings = settings or {}
        launch = stage_launch(settings)
        return Job(**common, batch_size=int(settings.get("batch_size", 8)),
                   processes=launch.processes, sharded=_shards_weights(launch.accelerate_config),
                   adapted_layers=(lora or {}).get("top_layers"),
                   gradient_checkpointing=bool(settings.get("gradient_checkpointing", False)),
                   share_prompt=bool(settings.get("share_prompt", True)),
                   group_by_length=bool(settings.get("group_by_length", True)),
                   settings_key="dpo" if stage == "dpo" else "sft")
    return Job(**common, batch_size=int(batch_size or 16), new_tokens=new_tokens,
               scores=scores, second_model=second_model,
               settings_key="judge" if stage == "judge" else "generation")


def _task(name: str, spec: Mapping, meta: str | Path | None):
    """The task of a config entry: with its data's labels where the data job wrote them."""
    from .tasks import load_task, load_task_with_meta, task_class

    if meta and Path(meta).is_file():
        try:
            return load_task_with_meta(name, dict(spec), str(meta))
        except (OSError, ValueError, KeyError):  # not written by the data job (yet)
            pass
    if "data" not in spec:
        return load_task(name, dict(spec))
    return task_class(name, dict(spec))


def _counted(kind: str, path, model_dir, task=None, candidates: bool = False) -> Lengths | None:
    """:func:`data_lengths`, or None where the file is not a finished job's (empty, or not
    the task's items): the estimate then takes the bounds."""
    try:
        found = data_lengths(kind, path, model_dir, task, candidates)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return found if found.longest else None


def config_job(rule: str, config: Mapping, wildcards: Mapping, model_dir: str | Path | None = None,
               files: Mapping[str, str | Path] | None = None) -> Job | None:
    """The :class:`Job` of a job of model rule ``rule`` with ``wildcards`` (model, task; the
    judge's model is the config's), from the workflow's ``config`` (its defaults filled in)
    and what exists of its inputs: ``model_dir`` the materialised model, ``files`` its data
    ("items": the split it reads, "pairs": DPO's pairs, "meta": the task's meta.json). Where
    a file is not there yet, items as long as ``context_length`` (:func:`bound_lengths`).
    None where the model's config is not known yet (a hub model not downloaded)."""
    from .config import JUDGE_MODEL_NAME, task_model_spec
    from .metrics import generates, ranks
    from .tasks import answer_tokens, pair_strategy

    files = {key: value for key, value in (files or {}).items()
             if value and Path(value).is_file()}
    stage = MODEL_RULES[rule]
    task_name = wildcards["task"]
    task_spec = config["tasks"][task_name]
    if stage == "judge":
        judge = config["judge"]
        model = judge["model"] if isinstance(judge["model"], str) else JUDGE_MODEL_NAME
        spec = (config["models"][model] if isinstance(judge["model"], str) else judge["model"])
    else:
        model = wildcards["model"]
        spec = task_model_spec(config["models"][model], task_spec)
    model_dir = model_dir if model_dir and Path(model_dir).is_dir() else None
    model_config_ = model_config(spec, model_dir)
    task = _task(task_name, task_spec, files.get("meta"))
    budget = answer_tokens(task, task_spec)
    context_length = config["context_length"]
    name = f"{rule} of {model}, task {task_name}" + (
        f", seed {wildcards['seed']}" if wildcards.get("seed") is not None else "") + (
        f", method {wildcards['method']}" if wildcards.get("method") else "") + (
        f", candidate {wildcards['candidate']}" if wildcards.get("candidate") else "")
    common = {"name": name, "config": model_config_, "spec": spec}
    mode = config["evaluation"]["mode"]
    kind = task.kind
    if stage in TRAINING_STAGES:
        section = config["dpo" if stage == "dpo" else "sft"]
        source = "pairs" if stage == "dpo" else "items"
        counted = (_counted(source, files[source], model_dir, task if source == "items" else None)
                   if source in files else None)
        lengths = counted or bound_lengths(context_length, budget)
        return rule_job(rule, **common, lengths=lengths, settings=section, lora=config["lora"])
    candidates = len(getattr(task, "labels", ()) or ()) or 4
    if stage == "pairs":
        strategy = pair_strategy(task, task_spec)
        summary = kind == "summary"
        scores = True
        # Summaries: the degradations' pairs scored chosen and rejected; the base summaries
        # generated by a second model where base_summary is tried; sft_wrong_answers generates.
        base_summary = "base_summary" in task_spec.get("pairs", {}).get("degradations", ())
        second = summary and strategy in ("degraded_summary", "sft_wrong_answers") and base_summary
        new_tokens = budget if strategy == "sft_wrong_answers" or second else 0
        with_candidates = not summary and strategy != "user_pairs"
        counted = ("items" in files
                   and _counted("items", files["items"], model_dir, task, with_candidates))
        lengths = counted or bound_lengths(context_length, budget,
                                           candidates if with_candidates else 0)
        if not with_candidates:  # both answers of a pair after its prompt
            lengths = replace(lengths, scored=2 * lengths.answer)
        return rule_job(rule, **common, lengths=lengths, batch_size=config["generation"][
            "batch_size"], new_tokens=new_tokens, scores=scores, second_model=second)
    scores, generated = ranks(kind, mode), generates(kind, mode)
    counted = "items" in files and _counted("items", files["items"], model_dir, task, scores)
    lengths = counted or bound_lengths(context_length, budget, candidates if scores else 0)
    if stage == "judge":
        lengths = replace(lengths, prompt=lengths.prompt + JUDGE_RUBRIC_TOKENS + budget,
                          prompt_mean=None)
        return rule_job(rule, **common, lengths=lengths, batch_size=config["judge"]["batch_size"],
                        new_tokens=config["judge"]["max_new_tokens"])
    return rule_job(rule, **common, lengths=lengths, batch_size=config["generation"]["batch_size"],
                    new_tokens=budget if generated else 0, scores=scores)


# The line every model job writes at the top of its log (:func:`check_job`), which the
# Snakefile's onerror handler reads back for a job the kernel killed (:func:`killed_jobs_report`).
NOTE_PREFIX = "sftdpo memory:"
KILLED = re.compile(r"died with <Signals\.SIGKILL: 9>")


def check_job(sm, device: str, host_mib: float | None = None,
              gpu_mib: float | None = None) -> Estimate | None:
    """At a model job's start (``sm``: its Snakemake object): estimate its peak on ``device``
    from its own data, write it with what to change at the top of its log (stdout), and
    raise :class:`MemoryRefusal` where it cannot fit this machine (``host_mib``, default
    :func:`host_memory_mib`: the machine's or the job's cgroup's limit) or its GPU
    (``gpu_mib``). None where the job is not a model rule's or its model's config is unknown."""
    if getattr(sm, "rule", None) not in MODEL_RULES or getattr(sm, "config", None) is None:
        return None  # not a model rule's job (a benchmark's or a test's stand-in)
    files = {"items": sm.input.get("train") or sm.input.get("evaluated"),
             "pairs": sm.input.get("pairs"), "meta": sm.input.get("meta")}
    model_dir = sm.input.get("model") or sm.input.get("judge_model")
    job = config_job(sm.rule, sm.config, dict(sm.wildcards.items()), model_dir, files)
    if job is None:
        return None
    host_mib = host_memory_mib() if host_mib is None else host_mib
    found = estimate(job, device)
    part = (lambda e: e.gpu or 0.0) if device == "cuda" else (lambda e: e.host)
    have = gpu_mib if device == "cuda" else host_mib
    machine = (f"this machine {gib(host_mib)}" if host_mib else "this machine's memory unknown") + (
        f", its GPU {gib(gpu_mib)}" if gpu_mib else "")
    print(f"{NOTE_PREFIX} {job.name}: estimated peak {found.describe()}, for "
          f"{lengths_note(job.lengths)}; {machine}. Were it to run out of memory, change one "
          f"of: {advice(job, device, part, have or float('inf'))}", flush=True)
    problem = fit_problem(job, device, host_mib, gpu_mib)
    if problem:
        raise MemoryRefusal(f"refused before it starts: {problem}")
    return found


def killed_jobs_report(snakemake_logs: Iterable[str | Path]) -> str:
    """For each job of a failed run that the kernel killed (Snakemake's "died with
    <Signals.SIGKILL: 9>" in its log ``snakemake_logs``): that it was killed, most likely
    for memory, with the estimate and the advice its own log's first line gives
    (:func:`check_job`). Empty where no job was killed."""
    reports = []
    for path in snakemake_logs:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for index, line in enumerate(lines):
            if not KILLED.search(line):
                continue
            # The job's error block follows its exception: its rule and log file.
            rule, job_logs = None, []
            for later in lines[index + 1:]:
                if rule is None and (match := re.match(r"Error in rule (\S+):", later)):
                    rule = match.group(1)
                elif rule is not None and (match := re.match(r"\s+log: (.*?)(?: \(check|$)",
                                                              later)):
                    job_logs = [p.strip() for p in match.group(1).split(",")]
                    break
                elif rule is not None and not later.startswith((" ", "\t")):
                    break
            notes = []
            for job_log in job_logs:
                try:
                    notes += [n for n in Path(job_log).read_text(
                        encoding="utf-8", errors="replace").splitlines()
                              if n.startswith(NOTE_PREFIX)]
                except OSError:
                    pass
            where = f" (log: {', '.join(job_logs)})" if job_logs else ""
            text = (f"The kernel killed a job of rule {rule or '?'}{where} (SIGKILL): most likely "
                    "it ran out of memory (the kernel's log says so: dmesg, 'Out of memory').")
            if notes:
                text += " " + notes[0].removeprefix(NOTE_PREFIX).strip()
            else:
                text += (" To make it smaller: a smaller batch_size (with "
                         "gradient_accumulation_steps for training), a shorter context_length, "
                         "or quantization: nf4.")
            reports.append(text)
    return "\n".join(dict.fromkeys(reports))
