"""Rule generate: greedy answers of one method (base, sft or dpo) on the test split."""

from sftdpo.context import read_fitted
from sftdpo.inference import TALLY, generate_answers
from sftdpo.io import write_json, write_jsonl
from sftdpo.modeling import load_tokenizer, load_with_adapter
from sftdpo.runtime import start_job
from sftdpo.tasks import answer_tokens, load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
meter = start_job(sm)
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
tokenizer = load_tokenizer(sm.input.model)
items = read_fitted(task, sm.params.task, sm.input.test, sm.input.model, tokenizer,
                    sm.params.sft_max_length)
# The base method has no adapter: its input is an empty list.
adapter = sm.input.get("adapter") or None
model = load_with_adapter(sm.input.model, sm.params.spec, adapter, meter.device)
with meter.measure():
    answers, generated_tokens = generate_answers(
        model,
        tokenizer,
        [task.prompt_messages(item) for item in items],
        max_new_tokens=answer_tokens(task, sm.params.task),
        batch_size=sm.params.batch_size,
    )
write_jsonl(sm.output.generations,
            [{"id": item["id"], "prediction": a} for item, a in zip(items, answers, strict=True)])
write_json(sm.output.summary, meter.record(tokens=TALLY.processed, items=len(items),
                                           prompt_tokens=TALLY.prompt,
                                           generated_tokens=generated_tokens))
