"""Rule generate: the answers of one method (base, sft or dpo) on the evaluated split: greedy
generations, the candidates' log-probabilities (likelihood evaluation), or both."""

from sftdpo.compute import inference_flops
from sftdpo.context import read_fitted
from sftdpo.inference import TALLY, generate_answers
from sftdpo.io import write_json, write_jsonl
from sftdpo.metrics import generates, ranks
from sftdpo.modeling import load_tokenizer, load_with_adapter
from sftdpo.runtime import start_job
from sftdpo.scoring import candidate_logprobs
from sftdpo.tasks import answer_tokens, load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
meter = start_job(sm, sm.params.spec)
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
tokenizer = load_tokenizer(sm.input.model)
items = read_fitted(task, sm.params.task, sm.input.evaluated, sm.input.model, tokenizer,
                    sm.params.context_length)
# The base method has no adapter: its input is an empty list.
adapter = sm.input.get("adapter") or None
model = load_with_adapter(sm.input.model, sm.params.spec, adapter, meter.device)
records = [{"id": item["id"]} for item in items]
generated_tokens = 0
with meter.measure():
    if generates(task.kind, sm.params.evaluation):
        answers, generated_tokens = generate_answers(
            model,
            tokenizer,
            [task.prompt_messages(item) for item in items],
            max_new_tokens=answer_tokens(task, sm.params.task),
            batch_size=sm.params.batch_size,
        )
        for record, answer in zip(records, answers, strict=True):
            record["prediction"] = answer
    if ranks(task.kind, sm.params.evaluation):
        logprobs = candidate_logprobs(model, tokenizer, task, items, sm.params.batch_size)
        for record, item_logprobs in zip(records, logprobs, strict=True):
            record["logprobs"] = item_logprobs
write_jsonl(sm.output.generations, records)
write_json(sm.output.compute, meter.record(tokens=TALLY.processed,
                                           flops=inference_flops(model, TALLY), items=len(items),
                                           prompt_tokens=TALLY.prompt,
                                           generated_tokens=generated_tokens,
                                           scored_tokens=TALLY.scored))
