"""The tested versions of every dependency: constraints.txt, and the pinned pip section of
workflow/envs/sftdpo.yaml (the rules' conda environment) written from it.

    python envs/lock.py freeze   # constraints.txt from this environment's `pip freeze`
    python envs/lock.py env      # workflow/envs/sftdpo.yaml's pip section from constraints.txt

`make install` (and so CI, whose .ci/run calls make) installs with `-c constraints.txt`.
A conda environment cannot point at the file: Snakemake copies the environment file under
.snakemake/conda/ before creating it, where a relative `-c` path no longer leads to it. The
yaml therefore lists the job packages (pyproject.toml's dependencies without Snakemake) and
everything they depend on, each at the version constraints.txt pins, and
tests/test_lock.py checks that the two agree.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
ENVIRONMENT = ROOT / "workflow" / "envs" / "sftdpo.yaml"
HEADER = """\
# The tested versions of every dependency (pip freeze of the environment the tests passed in;
# written by `python envs/lock.py freeze`). `make install` and CI install with
# `-c constraints.txt`; workflow/envs/sftdpo.yaml pins the same versions
# (`python envs/lock.py env`).
# torch is pinned without its local build label (+cpu, +cu128): set the Makefile's TORCH to
# the build of your machine.
"""
# The workflow's runner, not a job dependency: not in the rules' conda environment.
RUNNER = re.compile(r"snakemake")
PIP_SECTION = re.compile(r"(  - pip:\n)((?:      - .*\n)+)")


def read_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    """Canonical name -> pinned version."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def freeze() -> str:
    """constraints.txt's text from this environment (the project itself left out)."""
    # --all: setuptools too (torch requires it); pip itself is left out (make upgrades it).
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all",
                             "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout
    lines = []
    for line in frozen.splitlines():
        if "==" not in line or line.startswith(("#", "-e")):
            continue
        name, version = line.split("==")
        if canonicalize_name(name) in ("sftdpo", "pip"):
            continue
        lines.append(f"{name}=={version.split('+')[0]}")
    return HEADER + "\n".join(sorted(lines, key=str.lower)) + "\n"


def project_requirements(extras: bool = False) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    if extras:
        requirements += [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in requirements]


def job_closure() -> list[str]:
    """The job packages and what they need in this environment, canonical names, sorted."""
    pending = [r.name for r in project_requirements() if not RUNNER.match(r.name)]
    seen: set[str] = set()
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                pending.append(parsed.name)
    return sorted(seen)


def environment_pins(text: str) -> list[str]:
    """The pip entries of workflow/envs/sftdpo.yaml's text."""
    return [line.removeprefix("      - ") for line in PIP_SECTION.search(text).group(2)
            .splitlines()]


def write_environment() -> None:
    pins = read_constraints()
    entries = "".join(f"      - {name}=={pins[name]}\n" for name in job_closure())
    text = ENVIRONMENT.read_text()
    ENVIRONMENT.write_text(PIP_SECTION.sub(lambda m: m.group(1) + entries, text))


if __name__ == "__main__":
    command = sys.argv[1:] or ["--help"]
    if command == ["freeze"]:
        CONSTRAINTS.write_text(freeze())
    elif command == ["env"]:
        write_environment()
    else:
        sys.exit(__doc__)
