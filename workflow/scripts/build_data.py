"""Rule data: build or load a task's items, split them, and record what was done in meta.json."""

import sys
from collections import Counter

from sftdpo.data import SPLITS, build_splits, dropped_report
from sftdpo.io import write_json, write_jsonl
from sftdpo.runtime import redirect_output
from sftdpo.tasks import load_task
from sftdpo.userdata import DataError

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
try:
    splits, meta = build_splits(sm.wildcards.task, sm.params.task, sm.params.split,
                                sm.params.seed, base_dir=sm.params.base_dir)
except DataError as error:  # the user's to fix: the message, not a traceback
    print(f"DataError: {error}")
    sys.exit(1)
task = load_task(sm.wildcards.task, sm.params.task, meta["labels"])
for name in SPLITS:
    write_jsonl(sm.output[name], splits[name])
    print(name, len(splits[name]), dict(Counter(task.stratum(item) for item in splits[name])))
for line in dropped_report(meta):  # every item dropped, as meta.json's "dropped" lists them
    print(line)
write_json(sm.output.meta, meta)
print(meta)
