# Config validation, wildcard constraints and the input functions the rules share.
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

# The workflow's folder (workflow/ of the checkout), wherever Snakemake runs: in the checkout,
# or in another project that uses the workflow as a module. Its package, sftdpo, is imported
# from there, without installing the checkout: here, and in every rule's script through
# PYTHONPATH, which the jobs inherit (a cluster job's Snakemake sets it again). A module
# fetched by URL has no folder here: the package installed in Snakemake's environment is used.
WORKFLOW_DIR = Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parent
LOCAL_WORKFLOW = WORKFLOW_DIR.is_dir()
PYTHONPATH = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if LOCAL_WORKFLOW and str(WORKFLOW_DIR) not in sys.path:
    sys.path.insert(0, str(WORKFLOW_DIR))
if LOCAL_WORKFLOW and str(WORKFLOW_DIR) not in PYTHONPATH:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(WORKFLOW_DIR), *PYTHONPATH])
os.environ.setdefault("PYTHONPATH", "")


envvars:
    "PYTHONPATH",


import sftdpo

# The package this folder holds, not another copy imported before (an installed one of another
# version, or another checkout's): its code must be the rules'.
if LOCAL_WORKFLOW and (
    Path(sftdpo.__file__).resolve().parent != (WORKFLOW_DIR / "sftdpo").resolve()
):
    raise WorkflowError(
        f"the workflow in {WORKFLOW_DIR} needs its own package, {WORKFLOW_DIR / 'sftdpo'}, but "
        f"sftdpo was imported from {Path(sftdpo.__file__).parent} before it"
    )
from sftdpo import METHODS
from sftdpo.config import (
    JUDGE_MODEL_NAME,
    ConfigError,
    check_config,
    check_yaml_keys,
    primary_metric,
    task_metrics,
    task_model_spec,
)
from sftdpo.data import check_user_data
from sftdpo.decision import margin_for
from sftdpo.metrics import ALL_METRICS, evaluated
from sftdpo.model_files import model_folder_problems
from sftdpo.selection import UNTUNED, candidates, scalar_settings
from sftdpo.stats import comparison_name, primary_comparison
from sftdpo.tasks import task_class
from sftdpo.userfiles import data_files

# Every problem with the config, by key, before anything runs; then the schema's defaults.
# Snakemake has loaded the config files already, keeping the last of a key given twice: each
# file is read again by a loader that refuses that.
for config_path in workflow.configfiles:
    check_yaml_keys(config_path)
check_config(
    config,
    workflow.source_path("../schemas/config.schema.yaml"),
    source=" + ".join(map(str, workflow.configfiles)) or "config",
)
validate(config, "../schemas/config.schema.yaml")
# The optional LLM judge of summaries, and the name of its model: one under models:, or its
# own model (judge.model: {source: ...}), materialised beside them and never tuned.
JUDGE = config.get("judge")
JUDGE_MODEL = None
if JUDGE is not None:
    JUDGE_MODEL = JUDGE["model"] if isinstance(JUDGE["model"], str) else JUDGE_MODEL_NAME
# Every model to materialise: the tuned ones and a judge of its own.
MODEL_SPECS = config["models"] | (
    {JUDGE_MODEL_NAME: JUDGE["model"]} if JUDGE and isinstance(JUDGE["model"], dict) else {}
)
# A user's data file is read and checked now when that is quick (sftdpo.data.check_user_data),
# so bad data stops the run before any job; the data job checks every file again. A local
# model's folder must hold a Hugging Face config.
# The data job's seed: the built-in tasks' items and every split.
DATA_SEED = config.get("data_seed", config["seed"])
for user_task, user_spec in config["tasks"].items():
    check_user_data(user_task, user_spec, config["split"], DATA_SEED)
for local_name, local_spec in MODEL_SPECS.items():
    local_folder = Path(local_spec.get("path", "")).expanduser()
    if local_spec["source"] == "local" and not (local_folder / "config.json").is_file():
        raise ConfigError(
            f"models.{local_name}.path: {local_spec['path']} holds no config.json (looked in "
            f"{local_folder.absolute()}); allowed: a folder with a Hugging Face model "
            f"(config.json, weights, tokenizer)"
        )
    # Code of the model's own (auto_map) without the entry's opt-in: refused now. The weights
    # and tokenizer files are the model job's check (sftdpo.modeling.check_model_folder).
    local_problems = (
        []
        if local_spec["source"] != "local"
        else model_folder_problems(
            local_folder, local_name, local_spec.get("trust_remote_code", False), files=False
        )
    )
    if local_problems:
        raise ConfigError(
            f"models.{local_name}.path: {local_spec['path']} (looked in "
            f"{local_folder.absolute()}) cannot be used: " + "; ".join(local_problems)
        )

# Where this run writes: results/, logs/ and benchmarks/ at the top by default; under
# experiments/<name>/ with experiment: <name>, so experiments run one after another each keep
# their own tables. Models (resources/models/) are shared.
OUT = f"experiments/{config['experiment']}/" if config.get("experiment") else ""


def out(path):
    """``path`` (results/..., logs/..., benchmarks/...) where this run writes it."""
    return f"{OUT}{path}"


MODELS = list(config["models"])
TASKS = list(config["tasks"])
# Rules that run a model declare `resources: gpu=1`, a training rule its stage's processes (one
# per GPU, sftdpo.launch; the matched control SFT's): with --resources gpu=K, jobs run at once
# while their GPUs add up to K, and each leases its own (sftdpo.gpu); on a CPU the resource
# limits nothing. A model job's threads: THREADS_PER_GPU for each of its GPUs.
PROCESSES = {stage: config[stage]["processes"] for stage in ("sft", "dpo")}
THREADS_PER_GPU = 8
# Training seeds: SFT, pairs, DPO and generation repeat per seed on the one data split.
SEEDS = config.get("seeds") or [config["seed"]]
# The bootstrap CIs' and permutation tests' seed: not a training seed.
BOOTSTRAP_SEED = config["statistics"].get("bootstrap_seed", config["seed"])
# The base model trains nothing: it is generated once, in the first seed's folder.
BASE_SEED = SEEDS[0]
# The matched-compute control arm (sft_matched), on unless decision.matched_control is false.
CONTROL = config["decision"]["matched_control"]
RUN_METHODS = [method for method in METHODS if CONTROL or method != "sft_matched"]
# (seed, method) of every generation of a model and task: base once, the others per seed.
RUNS = [(BASE_SEED, "base")] + [(s, x) for s in SEEDS for x in RUN_METHODS if x != "base"]
# Keys of every generation (model, task, seed, method) and of every trained pair of adapters
# (model, task, seed), in one order for the rules that gather them.
METRIC_KEYS = [(m, t, s, x) for m in MODELS for t in TASKS for s, x in RUNS]
TRAINING_KEYS = [(m, t, s) for m in MODELS for t in TASKS for s in SEEDS]
# The split generate, score and stats evaluate on: test, or validation in a tuning run.
EVALUATED_SPLIT = config["evaluation"]["split"]
# Each task's kind (label, choice, summary) and the metrics it reports, known before its data.
TASK_KIND = {name: task_class(name, spec).kind for name, spec in config["tasks"].items()}
# The metrics each task reports, as the evaluation mode names them (sftdpo.metrics).
TASK_METRICS = {
    name: evaluated(task_class(name, spec).metrics, TASK_KIND[name], config["evaluation"]["mode"])
    for name, spec in config["tasks"].items()
}
# The verdict's rule (sftdpo.decision), declared before the run; per task the primary metric
# and its minimum worthwhile difference; one primary hypothesis per model and task.
PRIMARY_METRIC = {
    name: primary_metric(name, spec, config) for name, spec in config["tasks"].items()
}
MARGIN = {
    name: margin_for(PRIMARY_METRIC[name], spec, config["decision"]["margins"])
    for name, spec in config["tasks"].items()
}
N_PRIMARY = len(MODELS) * len(TASKS)
# The metrics each task's comparisons test: its own, and the judge's grade where one grades.
STATS_METRICS = {name: task_metrics(name, spec, config) for name, spec in config["tasks"].items()}

# Every training stage trains candidates (selection.smk, sftdpo.selection), each in a folder of
# its own, and the chosen one is copied to the adapter folder the later stages read. A stage
# whose learning_rate (or DPO's beta) is a list of two or more values is tuned on validation:
# one candidate per point of the grid, each scored on the validation split. Otherwise the stage
# has one candidate, its settings as they are (UNTUNED, nothing replaced), which is the choice
# without any validation job; a list of one value is that value. SFT is tuned first, DPO from
# the chosen SFT.
for tuned_stage in ("sft", "dpo"):
    config[tuned_stage] = scalar_settings(config[tuned_stage])
CANDIDATES = {
    stage: candidates(stage, config[stage]) or [(UNTUNED, {})] for stage in ("sft", "dpo")
}
TUNED = [stage for stage, grid in CANDIDATES.items() if len(grid) > 1]
CANDIDATE_SETTINGS = {stage: dict(grid) for stage, grid in CANDIDATES.items()}
# The adapter folder of each (model, task, seed, method) that pairs, DPO and generation read.
ADAPTER = out("results/adapters/{model}/{task}/seed{seed}/{method}")
SFT_ADAPTER = out("results/adapters/{model}/{task}/seed{seed}/sft")
DPO_ADAPTER = out("results/adapters/{model}/{task}/seed{seed}/dpo")
MATCHED_ADAPTER = out("results/adapters/{model}/{task}/seed{seed}/sft_matched")
# A training stage's candidates, each in a folder of its own below this one, and the choice.
SELECTION = out("results/selection/{model}/{task}/seed{seed}/{method}")
CANDIDATE = f"{SELECTION}/{{candidate}}"
CANDIDATE_ADAPTER = f"{CANDIDATE}/adapter"
SELECTION_TABLE = out("results/summary/selection.csv")


wildcard_constraints:
    model="|".join(map(re.escape, MODEL_SPECS)),
    task="|".join(map(re.escape, TASKS)),
    method="|".join(RUN_METHODS),
    seed="|".join(map(str, SEEDS)),
    metric="|".join(ALL_METRICS),
    candidate="|".join(re.escape(name) for grid in CANDIDATES.values() for name, _ in grid),


def outputs_of(rule_output, keys):
    """A rule's output for each key of METRIC_KEYS (model, task, seed, method) or of
    TRAINING_KEYS (model, task, seed)."""
    names = ("model", "task", "seed", "method")
    return [expand(rule_output, **dict(zip(names, key)))[0] for key in keys]


# Training (SFT, pairs, DPO), and the model and context check it waits for, go first wherever
# jobs wait for a core: each task's chain of them is the DAG's longest path, and generation and
# scoring fill the cores around it (in a default run on 2 cores without this, clinical
# reasoning's pairs waited 9 minutes for base answers, leaving one core idle at the end; with
# it on training only, radiology's context check waited 12 minutes; without it on the model
# job, that job started only after the first two data jobs).
TRAINING_PRIORITY = 1


def canonical(value):
    """``value`` with the keys of every mapping in it sorted (lists keep their order): the form
    of every params value made from config mappings. Snakemake reruns a job whose params
    differ from those recorded with its outputs, and compares them as the repr() of each value
    (snakemake/persistence/__init__.py, Persistence._params and params_changed); a dict's repr
    follows its key order, so without this the same settings written in another order, or
    filled in by the schema's defaults in another order, would rerun the job and all after it."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return type(value)(canonical(item) for item in value)
    return value


def model_spec(wildcards):
    """The model's config entry; a task's jobs take the task's attention where it sets one."""
    task = getattr(wildcards, "task", None)
    return canonical(
        task_model_spec(
            MODEL_SPECS[wildcards.model], config["tasks"][task] if task is not None else None
        )
    )


# The keys of a model entry its folder (resources/models/<name>) is made from, by source: not
# attention or quantization (how jobs load it), nor dtype but where the weights are written in
# it (the embedded model). Two experiments that load one model otherwise alike share the folder.
# The opt-in to a model's own code (trust_remote_code) decides what is downloaded and checked,
# and is recorded in the folder for every load: a key of its own, left out while off (its
# default), so the folders made before the key existed stay as they are.
MATERIALISED_KEYS = {
    "embedded": ("source", "dtype"),
    "hub": ("source", "hub_id", "revision", "trust_remote_code"),
    "local": ("source", "path", "trust_remote_code"),
}


def materialised_model_spec(wildcards):
    """The model rule's params: the keys of the model's entry the folder is made from."""
    spec = MODEL_SPECS[wildcards.model]
    return canonical(
        {
            key: spec[key]
            for key in MATERIALISED_KEYS[spec["source"]]
            if key in spec and not (key == "trust_remote_code" and not spec[key])
        }
    )


# Keys of a task entry that only the verdict reads (the stats and summary rules take them
# apart), so declaring a margin retrains and regenerates nothing.
DECISION_KEYS = ("primary_metric", "margin")


def task_spec(wildcards):
    """A task's config entry without its pairs section and decision keys: what every rule but
    pairs reads, so a pair setting reruns pairs and what follows it (DPO), not SFT or base and
    SFT answers."""
    return canonical(
        {
            key: value
            for key, value in pairs_task_spec(wildcards).items()
            if key != "pairs" and key not in DECISION_KEYS
        }
    )


def pairs_task_spec(wildcards):
    return canonical(
        {
            key: value
            for key, value in config["tasks"][wildcards.task].items()
            if key not in DECISION_KEYS
        }
    )


# The keys of a task entry the data job reads (where its items come from, not how they are
# prompted).
DATA_KEYS = ("builtin", "n_items", "generator", "data", "family")


def data_task_spec(wildcards):
    return canonical(
        {key: value for key, value in pairs_task_spec(wildcards).items() if key in DATA_KEYS}
    )


def data_inputs(wildcards):
    """The files a task's data is read from (none for a built-in or hub task): as inputs,
    an edit reruns the data job and everything downstream of it."""
    spec = task_spec(wildcards)
    if "data" not in spec:
        return []
    return data_files(spec["data"], ".", f"tasks.{wildcards.task}.data")


def model_inputs(wildcards):
    """A local model's files (its config, weights and weight index, tokenizer): as inputs,
    replacing them reruns the model job and everything downstream of it."""
    spec = model_spec(wildcards)
    if spec["source"] != "local":
        return []
    # The folder holds a config.json: checked above, before any job.
    return sorted(str(f) for f in Path(spec["path"]).expanduser().iterdir() if f.is_file())


def training_settings(stage, candidate=None):
    """The config sections a training stage reads; as params, editing them reruns that stage
    (and what depends on it) only: a DPO setting does not retrain SFT. With ``candidate``,
    that tuning candidate's settings replace the listed ones."""
    chosen = CANDIDATE_SETTINGS[stage][candidate] if candidate is not None else {}
    # The trainers truncate at the one context length every stage uses.
    return canonical(
        {
            "lora": config["lora"],
            stage: config[stage] | chosen | {"max_length": config["context_length"]},
        }
    )


def candidate_settings(stage):
    """The params function of a training stage's job: its candidate's settings."""
    return lambda wildcards: training_settings(stage, wildcards.candidate)


def candidate_adapter(stage):
    """The adapter folder of a training stage's candidate (wildcards model, task, seed and
    candidate)."""
    return CANDIDATE_ADAPTER.replace("{method}", stage)


def candidate_outputs(rule_output, wildcards, method):
    """A rule's output for every candidate of ``method`` in one model, task and seed."""
    return [
        expand(
            rule_output,
            model=wildcards.model,
            task=wildcards.task,
            seed=wildcards.seed,
            method=method,
            candidate=name,
        )[0]
        for name, _ in CANDIDATES[method]
    ]


# What several stage files use: the file reading it may be included before the one whose rule
# writes it, so the patterns and lists are here, not in the writer's file.
PREDICTIONS = out("results/predictions/{model}/{task}/seed{seed}/{method}.jsonl")
STATS_TABLE = out("results/stats/{model}/{task}.csv")
METRIC_FIGURE = out("results/figures/{task}/{metric}.png")
TRAINING_FIGURE = out("results/figures/{task}/{model}_seed{seed}_training.png")
CONFUSION_FIGURE = out("results/figures/{task}/{model}_seed{seed}_confusion.png")
# The answer first: every task and model's primary difference (the report opens on it).
FOREST_FIGURE = out("results/summary/forest.png")
# The HTML report's first page: the forest plot and the decision rule (rule figure_forest).
REPORT_LANDING = out("results/summary/report_landing.rst")
# One seed's SFT and DPO predictions with the base model's, on the same test items (the stats
# and confusion-figure inputs).
SEED_PREDICTIONS = {
    method: expand(
        PREDICTIONS,
        method=method,
        seed=BASE_SEED if method == "base" else "{seed}",
        allow_missing=True,
    )[0]
    for method in RUN_METHODS
}
# The stats table of every model and task: every comparison over all seeds.
STATS_TABLES = [expand(STATS_TABLE, model=m, task=t)[0] for m in MODELS for t in TASKS]
# Every figure: per task and metric; per model, task and seed the training curves and (label
# tasks) the confusion matrices.
FIGURES = (
    [FOREST_FIGURE]
    + [expand(METRIC_FIGURE, task=t, metric=metric)[0] for t in TASKS for metric in TASK_METRICS[t]]
    + outputs_of(TRAINING_FIGURE, TRAINING_KEYS)
    + outputs_of(CONFUSION_FIGURE, [key for key in TRAINING_KEYS if TASK_KIND[key[1]] == "label"])
)


def compute_record(key):
    """A job's compute record (sftdpo.compute.RECORD_NAME): an SFT, control or DPO adapter folder,
    whose compute.json the gather reads, or the output named compute of the stage's rule
    (called once every stage's rules are defined)."""
    if key["stage"] in ("sft", "sft_matched", "dpo"):
        return expand(ADAPTER, **key, method=key["stage"])[0]
    return expand(getattr(rules, key["stage"]).output.compute, **key)[0]


def tuning_records():
    """Where a stage is tuned (selection.smk), every candidate's two records, each a (key,
    path): its training (the candidate's adapter folder, whose compute.json is read) and its
    validation generation; the gather sums a candidate's two parts into one row of stage
    tuning, method "<stage>:<candidate>". Every candidate counts, the chosen one included."""
    if not TUNED:
        return []
    records = []
    for m, t, s in TRAINING_KEYS:
        for stage in TUNED:
            for name, _ in CANDIDATES[stage]:
                where = {"model": m, "task": t, "seed": s, "method": stage, "candidate": name}
                key = {
                    "model": m,
                    "task": t,
                    "seed": s,
                    "stage": "tuning",
                    "method": f"{stage}:{name}",
                }
                records += [
                    ({**key, "part": "training"}, expand(CANDIDATE_ADAPTER, **where)[0]),
                    (
                        {**key, "part": "validation"},
                        expand(rules.validate_candidate.output.compute, **where)[0],
                    ),
                ]
    return records
