"""Rule adopt_candidate: the chosen candidate's adapter folder (the one candidate of an untuned
stage, else the one selected.json names) copied to the adapter folder later stages read, its
compute record included; all or nothing. Files are hard-linked where the file system allows
(the candidate's files are never written again: a rerun writes a new folder), else copied."""

import os
import shutil
from pathlib import Path

from sftdpo.io import partial_dir, read_json
from sftdpo.runtime import redirect_output


def link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
adapters = [Path(folder) for folder in sm.input.adapters]
if sm.input.get("selected"):
    chosen = read_json(sm.input.selected)["chosen"]
    source = next(folder for folder in adapters if folder.parent.name == chosen)
else:  # an untuned stage: its one candidate
    (source,) = adapters
    chosen = source.parent.name
partial = partial_dir(sm.output[0])
shutil.rmtree(partial, ignore_errors=True)
# Snakemake marks each directory output with a timestamp file of its own: not linked.
shutil.copytree(source, partial, copy_function=link_or_copy,
                ignore=shutil.ignore_patterns(".snakemake_timestamp"))
shutil.rmtree(sm.output[0], ignore_errors=True)
partial.rename(sm.output[0])
print(f"{sm.wildcards.method}: chose {chosen}, copied {source} to {sm.output[0]}")
