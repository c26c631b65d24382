"""Rule generate: greedy answers of one method (base, sft or dpo) on the test split."""

import time

from sftdpo.inference import generate_answers
from sftdpo.io import read_jsonl, write_json, write_jsonl
from sftdpo.modeling import load_tokenizer, load_with_adapter, resolve_device
from sftdpo.runtime import prepare_torch, redirect_output
from sftdpo.tasks import get_task

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
prepare_torch(sm.threads, sm.params.seed)
started = time.time()
task = get_task(sm.wildcards.task)
items = read_jsonl(sm.input.test)
# The base method has no adapter: its input is an empty list.
adapter = sm.input.get("adapter") or None
model = load_with_adapter(sm.input.model, sm.params.spec, adapter, resolve_device())
answers, generated_tokens = generate_answers(
    model,
    load_tokenizer(sm.input.model),
    [task.prompt_messages(item["text"]) for item in items],
    max_new_tokens=sm.params.generation["max_new_tokens"],
    batch_size=sm.params.generation["batch_size"],
)
write_jsonl(sm.output.generations,
            [{"id": item["id"], "prediction": a} for item, a in zip(items, answers, strict=True)])
write_json(sm.output.summary, {"wall_seconds": time.time() - started, "items": len(items),
                               "generated_tokens": generated_tokens})
