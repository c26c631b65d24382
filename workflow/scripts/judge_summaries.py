"""Rule judge: the configured judge model grades each generated summary 1-5 by the rubric."""

from sftdpo.context import read_fitted
from sftdpo.flops import inference_flops
from sftdpo.io import read_jsonl, write_json, write_jsonl
from sftdpo.judge import judge_counts, judge_summaries
from sftdpo.modeling import load_base_model, load_tokenizer
from sftdpo.runtime import start_job
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
meter = start_job(sm, sm.params.judge_spec)
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
tokenizer = load_tokenizer(sm.input.judge_model)
items = read_fitted(task, sm.params.task, sm.input.evaluated, sm.input.judge_model, tokenizer,
                    sm.params.context_length)
by_id = {g["id"]: g["prediction"] for g in read_jsonl(sm.input.generations)}
summaries = [task.parse(by_id[item["id"]], item) for item in items]
model = load_base_model(sm.input.judge_model, sm.params.judge_spec, meter.device)
with meter.measure():
    results, tally = judge_summaries(model, tokenizer, items, summaries,
                                     sm.params.judge["batch_size"],
                                     sm.params.judge["max_new_tokens"])
write_jsonl(sm.output.grades, [{"id": item["id"], **result}
                               for item, result in zip(items, results, strict=True)])
write_json(sm.output.compute, meter.record(tokens=tally.processed,
                                           flops=inference_flops(model, tally),
                                           prompt_tokens=tally.prompt,
                                           generated_tokens=tally.generated))
print(judge_counts(results))
