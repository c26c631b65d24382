"""Rule pairs: preference pairs on the training split, scored by the SFT model."""

from collections import Counter

from sftdpo.io import read_jsonl, write_jsonl
from sftdpo.modeling import load_tokenizer, load_with_adapter, resolve_device
from sftdpo.pairs import PAIR_STRATEGIES
from sftdpo.runtime import prepare_torch, redirect_output
from sftdpo.tasks import get_task

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
prepare_torch(sm.threads, sm.params.seed)
model = load_with_adapter(sm.input.model, sm.params.spec, sm.input.sft, resolve_device())
pairs = PAIR_STRATEGIES[sm.params.strategy](
    model, load_tokenizer(sm.input.model), get_task(sm.wildcards.task), read_jsonl(sm.input.train)
)
write_jsonl(sm.output[0], pairs)
print(len(pairs), "pairs;", Counter(p["rejected"] for p in pairs), "rejected labels;",
      sum(p["sft_prefers_rejected"] for p in pairs), "where the SFT model prefers the wrong one")
