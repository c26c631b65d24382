"""Rule data: build a task's items and split them into train / validation / test."""

from collections import Counter

from sftdpo.data import SPLITS, stratified_split
from sftdpo.io import write_jsonl
from sftdpo.runtime import redirect_output
from sftdpo.tasks import get_task

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
task = get_task(sm.wildcards.task)
items = task.build_items(sm.params.task["n_items"], sm.params.seed, **sm.params.task["generator"])
splits = stratified_split(task, items, sm.params.split["validation"], sm.params.split["test"],
                          sm.params.seed)
for name in SPLITS:
    write_jsonl(sm.output[name], splits[name])
    print(name, len(splits[name]), dict(Counter(task.gold(item) for item in splits[name])))
