"""Rule context: every item of a task's splits against one model's context, by the task's
too_long, before any model job; only the tokenizer is loaded."""

import sys

from sftdpo.context import context_limit, fit_to_context
from sftdpo.data import SPLITS
from sftdpo.io import read_jsonl, write_json
from sftdpo.modeling import load_tokenizer
from sftdpo.runtime import redirect_output
from sftdpo.tasks import answer_tokens, load_task_with_meta
from sftdpo.userdata import DataError
from sftdpo.userspec import source_name

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
spec = sm.params.task
task = load_task_with_meta(sm.wildcards.task, spec, sm.input.meta)
tokenizer = load_tokenizer(sm.input.model)
limit = context_limit(sm.input.model, sm.params.context_length)
budget = answer_tokens(task, spec)
record = {"context_tokens": limit, "answer_tokens": budget, "too_long": spec["too_long"],
          "truncated": {}}
try:
    for split in SPLITS:
        items = read_jsonl(sm.input[split])
        _, record["truncated"][split] = fit_to_context(
            task, items, tokenizer, limit, budget, spec["too_long"], sm.input[split],
            source_name(spec["data"]) if "data" in spec else None)
except DataError as error:  # the user's to fix: the message, not a traceback
    print(f"DataError: {error}")
    sys.exit(1)
write_json(sm.output[0], record)
print(record)
