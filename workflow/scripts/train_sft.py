"""Rule sft: LoRA (or QLoRA) supervised fine-tuning of the base model on the training split."""

from sftdpo.context import read_fitted
from sftdpo.modeling import load_tokenizer
from sftdpo.runtime import start_job
from sftdpo.selection import UNTUNED
from sftdpo.tasks import load_task_with_meta
from sftdpo.trackers import TrainingRun
from sftdpo.training import build_sft_trainer, train_and_save

sm = snakemake  # noqa: F821 - injected by Snakemake
meter = start_job(sm, sm.params.spec)
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
tokenizer = load_tokenizer(sm.input.model)
trainer, sharing = build_sft_trainer(
    model_dir=sm.input.model,
    spec=sm.params.spec,
    task=task,
    train_items=read_fitted(task, sm.params.task, sm.input.train, sm.input.model, tokenizer,
                            sm.params.context_length),
    validation_items=read_fitted(task, sm.params.task, sm.input.validation, sm.input.model,
                                 tokenizer, sm.params.context_length),
    settings=sm.params.settings,
    seed=sm.params.seed,
    device=meter.device,
    out_dir=sm.output[0],
    # Named by its candidate where the stage is tuned.
    run=TrainingRun(sm.wildcards.model, sm.wildcards.task, sm.params.seed, "sft",
                    None if sm.wildcards.candidate == UNTUNED else sm.wildcards.candidate),
)
train_and_save(trainer, sm.output[0], meter, sharing=sharing)
