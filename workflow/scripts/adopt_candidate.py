"""Rule adopt_candidate: the chosen candidate's adapter folder (selected.json) copied to the
adapter folder later stages read, its compute record included; all or nothing."""

import shutil
from pathlib import Path

from sftdpo.io import partial_dir, read_json
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
chosen = read_json(sm.input.selected)["chosen"]
source = next(Path(folder) for folder in sm.input.adapters
              if Path(folder).parent.name == chosen)
partial = partial_dir(sm.output[0])
shutil.rmtree(partial, ignore_errors=True)
shutil.copytree(source, partial)
shutil.rmtree(sm.output[0], ignore_errors=True)
partial.rename(sm.output[0])
print(f"{sm.wildcards.method}: chose {chosen}, copied {source} to {sm.output[0]}")
