"""Rule generate: the answers of one method (base, sft or dpo) on the evaluated split: greedy
generations, the candidates' log-probabilities (likelihood evaluation), or both."""

from sftdpo.context import read_fitted
from sftdpo.flops import inference_flops
from sftdpo.inference import TokenTally, generate_answers
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
# The tokens the generation and the scoring ran, as they return them: the compute record.
tally = TokenTally()
with meter.measure():
    if generates(task.kind, sm.params.evaluation):
        answers, generated = generate_answers(
            model,
            tokenizer,
            [task.prompt_messages(item) for item in items],
            max_new_tokens=answer_tokens(task, sm.params.task),
            batch_size=sm.params.batch_size,
        )
        tally += generated
        for record, answer in zip(records, answers, strict=True):
            record["prediction"] = answer
    if ranks(task.kind, sm.params.evaluation):
        logprobs, scored = candidate_logprobs(model, tokenizer, task, items,
                                              sm.params.batch_size)
        tally += scored
        for record, item_logprobs in zip(records, logprobs, strict=True):
            record["logprobs"] = item_logprobs
write_jsonl(sm.output.generations, records)
write_json(sm.output.compute, meter.record(tokens=tally.processed,
                                           flops=inference_flops(model, tally), items=len(items),
                                           prompt_tokens=tally.prompt,
                                           generated_tokens=tally.generated,
                                           scored_tokens=tally.scored))
