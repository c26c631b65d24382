"""Rule judge: the configured judge model grades each generated summary 1-5 by the rubric."""

from sftdpo.context import read_fitted
from sftdpo.io import read_jsonl, write_jsonl
from sftdpo.judge import judge_counts, judge_summaries
from sftdpo.modeling import load_base_model, load_tokenizer, resolve_device
from sftdpo.runtime import prepare_torch, redirect_output
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
prepare_torch(sm.threads, sm.params.seed)
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
tokenizer = load_tokenizer(sm.input.judge_model)
items = read_fitted(task, sm.params.task, sm.input.test, sm.input.judge_model, tokenizer,
                    sm.params.sft_max_length)
by_id = {g["id"]: g["prediction"] for g in read_jsonl(sm.input.generations)}
summaries = [task.parse(by_id[item["id"]], item) for item in items]
model = load_base_model(sm.input.judge_model, sm.params.judge_spec, resolve_device())
results = judge_summaries(model, tokenizer, items, summaries, sm.params.judge["batch_size"],
                          sm.params.judge["max_new_tokens"])
write_jsonl(sm.output[0], [{"id": item["id"], **result}
                           for item, result in zip(items, results, strict=True)])
print(judge_counts(results))
