"""The tested versions of every dependency in one place: constraints.txt, used by make (and so
CI) and mirrored, pinned, in workflow/envs/sftdpo.yaml (envs/lock.py)."""

import importlib.util
import re
from pathlib import Path

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("lock", ROOT / "envs" / "lock.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)


def test_every_project_dependency_is_pinned_within_its_range():
    pins = lock.read_constraints()
    for requirement in lock.project_requirements(extras=True):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} has no pin in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"{name}=={pins[name]} is outside pyproject.toml's {requirement.specifier}"
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.!]*", version) for version in pins.values())
    assert "sftdpo" not in pins and "pip" not in pins


def test_the_conda_environment_pins_what_constraints_pin():
    pins = lock.read_constraints()
    entries = lock.environment_pins(lock.ENVIRONMENT.read_text())
    names = []
    for entry in entries:
        name, version = entry.split("==")
        names.append(canonicalize_name(name))
        assert pins[names[-1]] == version, entry
    job = {canonicalize_name(r.name) for r in lock.project_requirements()
           if not lock.RUNNER.match(r.name)}
    assert job <= set(names) and not any(lock.RUNNER.match(n) for n in names)


def test_make_installs_with_the_constraints():
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line
                and "--upgrade pip" not in line]
    assert installs and all("-c $(CONSTRAINTS)" in line for line in installs)
    assert "CONSTRAINTS := constraints.txt" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
