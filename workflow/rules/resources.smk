# Memory and GPUs: each model job's mem_mb resource, and the local run's checks, before any
# job, that every model job fits this machine.

# Memory (sftdpo.job_memory): each model rule's `resources: mem_mb` is its job's estimated peak, so
# jobs that do not fit in memory together do not start together. Snakemake evaluates it when it
# shows or schedules a job: on the job's own data once that exists, else items as long as
# context_length. A local run (--cores) gets the memory free when it starts as its limit unless
# --resources mem_mb=N says otherwise; under a cluster executor (--jobs; the SLURM profile) each
# job asks for its mem_mb (sbatch --mem) and runs on a GPU node. Before any job, a local run's
# plan refuses every model job that cannot fit this machine (or its GPU), with what to change;
# every model job checks again when it starts, on its node (sftdpo.runtime.start_job).
import errno

from sftdpo.gpu import nvml_device_count, visible_gpus
from sftdpo.job_memory import config_job
from sftdpo.machine_memory import (
    MB_PER_MIB,
    host_available_mib,
    host_memory_mib,
    nvml_gpu_memory_mib,
)
from sftdpo.memory_estimate import estimate, fit_problem

# A run on this machine: --cores, not a cluster executor's --jobs; not a job's own Snakemake.
LOCAL_RUN = workflow.resource_settings.nodes is None and str(workflow.exec_mode).lower().endswith(
    "default"
)
MODEL_JOB_DEVICE = {}


def model_job_device():
    """Where the model jobs run: this machine's GPU where it has one (sftdpo.gpu), else its CPU;
    under a cluster executor a GPU node (the SLURM profile gives every model rule a GPU)."""
    if not (LOCAL_RUN and workflow.local_exec):
        return "cuda"
    if "local" not in MODEL_JOB_DEVICE:
        MODEL_JOB_DEVICE["local"] = "cuda" if visible_gpus(os.environ, nvml_device_count) else "cpu"
    return MODEL_JOB_DEVICE["local"]


def model_job_mem_mb(rule_name):
    """The mem_mb resource (MB) of each job of the model rule named `rule_name`, a function
    of the job: its estimated peak host memory (sftdpo.job_memory.config_job, then
    sftdpo.memory_estimate.estimate)."""

    def mem_mb(wildcards, input):
        model_dir = input.get("model") or input.get("judge_model")
        files = {
            "items": input.get("train") or input.get("evaluated"),
            "pairs": input.get("pairs"),
            "meta": input.get("meta"),
        }
        job = config_job(rule_name, config, dict(wildcards.items()), model_dir, files)
        if job is None:  # a hub model's config before its download: known then (<TBD> now)
            raise FileNotFoundError(errno.ENOENT, "the model's config is not there yet", model_dir)
        return estimate(job, model_job_device()).mem_mb

    return mem_mb


def planned_model_jobs():
    """(rule, wildcards, model folder, data files) of each kind of model job of the plan, once
    per model and task (the seeds' jobs are alike)."""
    rule_names = ["sft", "pairs", "dpo", "generate"] + (["sft_matched"] if CONTROL else [])
    for m in MODELS:
        for t in TASKS:
            data = out(f"results/data/{t}")
            files = {
                "meta": f"{data}/meta.json",
                "items": f"{data}/train.jsonl",
                "pairs": out(f"results/pairs/{m}/{t}/seed{BASE_SEED}.jsonl"),
            }
            for name in rule_names:
                evaluated = (
                    {"items": f"{data}/{EVALUATED_SPLIT}.jsonl"} if name == "generate" else {}
                )
                yield (
                    name,
                    {"model": m, "task": t, "seed": BASE_SEED},
                    f"resources/models/{m}",
                    files | evaluated,
                )
            if JUDGE is not None and TASK_KIND[t] == "summary":
                yield (
                    "judge",
                    {"model": m, "task": t, "seed": BASE_SEED},
                    f"resources/models/{JUDGE_MODEL}",
                    {"meta": files["meta"], "items": f"{data}/{EVALUATED_SPLIT}.jsonl"},
                )


def memory_problems():
    """Every planned model job that cannot fit this machine, each with what to change."""
    device = model_job_device()
    host = host_memory_mib()
    gpu = nvml_gpu_memory_mib() if device == "cuda" else None
    problems = []
    for name, wildcards, model_dir, files in planned_model_jobs():
        job = config_job(name, config, wildcards, model_dir, files)
        problem = job and fit_problem(job, device, host, gpu)
        if problem:
            problems.append(problem)
    return problems


# A local run's mem_mb limit where --resources gives none: the memory free now (set while the
# workflow is read: Snakemake's scheduler takes its limits from here when it starts).
if (
    LOCAL_RUN
    and "mem_mb" not in workflow.global_resources
    and (available_mib := host_available_mib())
):
    workflow.register_resource("mem_mb", int(available_mib * MB_PER_MIB))
# $SFTDPO_HOST_MEMORY_MB stands for this machine's memory (MB; 0: not checked).
if LOCAL_RUN and (memory_problems_found := memory_problems()):
    raise ConfigError(
        f"{len(memory_problems_found)} model job(s) cannot fit this machine's memory and are "
        "refused before any job starts (estimates: sftdpo.memory_estimate; each seed's job "
        "alike; to plan for another machine, set SFTDPO_HOST_MEMORY_MB to its memory in MB, "
        "or 0):\n- " + "\n- ".join(memory_problems_found)
    )


def gpu_problems():
    """Every training stage whose processes a local run cannot give a GPU each: more than
    --resources gpu=K (Snakemake would cut the job's gpu=N to K, and the job would hold fewer
    GPUs than processes), or than this machine has. On a CPU the processes share its cores."""
    limit = workflow.global_resources.get("gpu")
    # A number, or Snakemake's Resource holding one (Snakemake 9.x).
    limit = getattr(limit, "value", limit)
    gpus = (
        len(visible_gpus(os.environ, nvml_device_count)) if model_job_device() == "cuda" else None
    )
    problems = []
    for stage, processes in PROCESSES.items():
        if limit is not None and processes > limit:
            problems.append(
                f"{stage}.processes: {processes}, one GPU each, but --resources gpu={limit}"
            )
        elif gpus is not None and processes > gpus:
            problems.append(f"{stage}.processes: {processes}, one GPU each, but {gpus} GPU(s) here")
    return problems


if LOCAL_RUN and (gpu_problems_found := gpu_problems()):
    raise ConfigError(
        "a training job cannot have a GPU for each of its processes (sftdpo.launch): "
        + "; ".join(gpu_problems_found)
    )
