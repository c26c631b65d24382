"""Rule pairs: preference pairs on the training split, by the task's pair strategy."""

from sftdpo.context import read_fitted
from sftdpo.flops import inference_flops
from sftdpo.io import write_json, write_jsonl
from sftdpo.modeling import load_tokenizer, load_with_adapter
from sftdpo.pairs import (
    PAIR_STRATEGIES,
    PairContext,
    check_enough_pairs,
    pair_counts,
    with_reference,
)
from sftdpo.runtime import start_job
from sftdpo.tasks import answer_tokens, load_task_with_meta, pair_strategy
from sftdpo.userspec import source_name

sm = snakemake  # noqa: F821 - injected by Snakemake
meter = start_job(sm, sm.params.spec)
device = meter.device
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
tokenizer = load_tokenizer(sm.input.model)
strategy = pair_strategy(task, sm.params.task)
context = PairContext(
    model=load_with_adapter(sm.input.model, sm.params.spec, sm.input.sft, device),
    tokenizer=tokenizer,
    task=task,
    items=read_fitted(task, sm.params.task, sm.input.train, sm.input.model, tokenizer,
                      sm.params.context_length),
    seed=sm.params.seed,
    max_new_tokens=answer_tokens(task, sm.params.task),
    batch_size=sm.params.batch_size,
    degradations=tuple(sm.params.task["pairs"]["degradations"]),
    load_base_model=lambda: load_with_adapter(sm.input.model, sm.params.spec, None, device),
)
# Measured: the strategy's scoring and generation (base_summary loads the base model in it),
# and the SFT model's log-probabilities of both answers, DPO's reference.
with meter.measure():
    pairs = with_reference(context, PAIR_STRATEGIES[strategy](context), sm.params.context_length)
source = source_name(sm.params.task["data"]) if "data" in sm.params.task else "built-in data"
counts = pair_counts(context, pairs, strategy)
print(f"{counts['pairs']} of {counts['training_items']} training items paired by {strategy}:",
      counts["by"])
for dropped in counts["dropped_items"]:
    print(f"not paired: {source}, {dropped['where']}: {' / '.join(dropped['reasons'])}")
check_enough_pairs(counts, sm.params.task["pairs"]["min_share"], sm.wildcards.task, source)
write_jsonl(sm.output.pairs, pairs)
write_json(sm.output.counts, counts)
# The tokens the strategy and the reference scoring ran (added up in the context as each call
# returned them); the base model a strategy may load has the SFT model's blocks, without the
# adapter.
tally = context.tally
write_json(sm.output.compute, meter.record(tokens=tally.processed,
                                           flops=inference_flops(context.model, tally),
                                           prompt_tokens=tally.prompt,
                                           generated_tokens=tally.generated,
                                           scored_tokens=tally.scored))
if pairs and "sft_prefers_rejected" in pairs[0]:
    print(sum(p.get("sft_prefers_rejected", False) for p in pairs),
          "hardest-wrong pairs where the SFT model prefers the wrong answer")
