"""Rule sft: LoRA (or QLoRA) supervised fine-tuning of the base model on the training split."""

from sftdpo.io import read_jsonl
from sftdpo.modeling import resolve_device
from sftdpo.runtime import prepare_torch, redirect_output
from sftdpo.tasks import get_task
from sftdpo.training import build_sft_trainer, train_and_save

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
prepare_torch(sm.threads, sm.params.seed)
trainer = build_sft_trainer(
    model_dir=sm.input.model,
    spec=sm.params.spec,
    task=get_task(sm.wildcards.task),
    train_items=read_jsonl(sm.input.train),
    validation_items=read_jsonl(sm.input.validation),
    settings=sm.params.settings,
    seed=sm.params.seed,
    device=resolve_device(),
    out_dir=sm.output[0],
)
train_and_save(trainer, sm.output[0])
