"""The workflow used by another project as a Snakemake module (the workflow catalog's
standardized usage): a folder of its own, with its own Snakefile and config, uses the
workflow's workflow/Snakefile, without installing the checkout and without running in it.

The shared finished run (tests/conftest.py) is such a project: the tiny model's whole DAG runs
there, and tests/test_workflow.py checks it and its results (not here: the SLURM test, which
sorts between the two, builds that run while its own waits on SLURM). Here, a copy of the
workflow folder elsewhere plans a tuned experiment, and its jobs import the copy's package."""

import re
import shutil

import yaml

from workflow_runs import REPO, module_snakemake, tiny_config, write_module_project

# A rule of the project's own, beside the workflow's: which sftdpo its jobs import.
WHICH_PACKAGE = """

rule which_package:
    output:
        "which_package.txt",
    script:
        "which_package.py"
"""
WHICH_PACKAGE_SCRIPT = """\
from pathlib import Path

import sftdpo

Path(snakemake.output[0]).write_text(sftdpo.__file__)
"""


def test_a_copy_of_the_workflow_runs_as_a_module_with_its_own_package(tiny_model_dir, tmp_path):
    """The workflow folder copied elsewhere (as snakedeploy or a git submodule puts it): a
    project's dry run plans the whole tuned DAG from it, and its jobs, the workflow's and the
    project's own, import the package from the copy, not from the checkout that is installed
    in this environment."""
    deployed = tmp_path / "deployed" / "workflow"
    shutil.copytree(REPO / "workflow", deployed,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    project = tmp_path / "project"
    project.mkdir()
    config = tiny_config(tiny_model_dir, {"provider_triage": {"n_items": 40}})
    config["sft"]["learning_rate"] = [2e-4, 1e-3]
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    write_module_project(project, deployed, WHICH_PACKAGE)
    (project / "which_package.py").write_text(WHICH_PACKAGE_SCRIPT)

    planned = module_snakemake(project, "--dry-run", "--quiet", "rules")
    assert planned.returncode == 0, planned.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", planned.stdout, re.MULTILINE))
    assert counts["all"] == "1" and counts["summary"] == "1"
    assert (counts["sft"], counts["validate_candidate"], counts["select_candidate"]) == (
        "2", "2", "1")
    assert counts["dpo"] == "1" and counts["adopt_candidate"] == "2"

    ran = module_snakemake(project, "which_package.txt", "results/data/provider_triage/meta.json")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert (project / "which_package.txt").read_text() == str(deployed / "sftdpo" / "__init__.py")
    assert (project / "results/data/provider_triage/meta.json").is_file()
    assert not (deployed / "results").exists() and not (REPO / "which_package.txt").exists()
