# Config validation, wildcard constraints and the input functions the rules share.
import os
import re
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# The workflow's package lives in workflow/sftdpo; found here even when it is not installed.
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow")
sys.path.insert(0, PACKAGE_ROOT)

from sftdpo.config import check_config  # noqa: E402

# Every problem with the config, by key, before anything runs; then the schema's defaults.
check_config(config, os.path.join(PACKAGE_ROOT, "schemas", "config.schema.yaml"),
             source=" + ".join(map(str, workflow.configfiles)) or "config")
validate(config, "../schemas/config.schema.yaml")

MODELS = list(config["models"])
TASKS = list(config["tasks"])
METHODS = ["base", "sft", "dpo"]


wildcard_constraints:
    model="|".join(map(re.escape, MODELS)),
    task="|".join(map(re.escape, TASKS)),
    method="|".join(METHODS),


def model_spec(wildcards):
    return config["models"][wildcards.model]


def training_settings(wildcards):
    """The sections of the config one training job reads (params: so edits retrain)."""
    return {"lora": config["lora"], "sft": config["sft"], "dpo": config["dpo"]}
