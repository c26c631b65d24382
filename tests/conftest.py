from pathlib import Path

import pytest

from sftdpo.tasks import BUILTIN_TASKS
from tiny_model import build_tiny_model
from workflow_runs import ONE_THREAD, module_snakemake, new_workdir, write_module_project


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Llama whose tokenizer was trained on the built-in tasks' items and answers."""
    corpus = []
    for task in BUILTIN_TASKS.values():
        items = task.build_items(60, 0)
        corpus += [item["text"] for item in items]
        corpus += [task.completion(item) for item in items] * 3
        corpus += [task.instruction] * 5
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), corpus)


@pytest.fixture(scope="session")
def finished_run(tiny_model_dir, tmp_path_factory):
    """The whole DAG of three tasks (tests/workflow_runs.py: new_workdir), run once per session,
    in a project folder of its own that uses the workflow as a module, as another project would
    (write_module_project; tests/test_module.py): tests/test_workflow.py checks its results and
    runs the checkout's Snakefile in its folder (nothing to do, a second experiment);
    tests/test_slurm.py compares a SLURM run of its my_messages task with it. The GPU rules run
    one thread each (ONE_THREAD), as in the SLURM run."""
    workdir = new_workdir(tmp_path_factory, tiny_model_dir)
    write_module_project(workdir)
    result = module_snakemake(workdir, "--show-failed-logs", "all", *ONE_THREAD)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


# The test modules that read the shared finished run: `make test` runs the suite on two
# pytest-xdist workers, and these modules go to one worker together, first, so that the run is
# built once and the longest part of the suite (the SLURM run, tests/test_slurm.py) starts at
# once. Every other module is a unit of its own, so its module fixtures are built once.
# (xdist's `--dist loadgroup` would read the same from xdist_group marks, but with pytest 9.2
# it ignores them: pytest-dev/pytest-xdist#1386.)
SHARED_RUN_MODULES = ("test_slurm.py", "test_workflow.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name not in SHARED_RUN_MODULES)


def scheduling_unit(nodeid: str) -> str:
    """The unit a test is scheduled in: its module, or one unit for SHARED_RUN_MODULES."""
    module = nodeid.split("::", 1)[0]
    return "shared run" if Path(module).name in SHARED_RUN_MODULES else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduling by scope, by scheduling_unit, the units handed out in collection
    order. ``_split_scope`` is the method xdist's own schedulers by file and by group override
    (xdist 3.8; tests/test_workflow.py checks that its scheduler still calls it)."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunFirst(LoadScopeScheduling):
        _split_scope = staticmethod(scheduling_unit)

    config.option.loadscopereorder = False
    return SharedRunFirst(config, log)
