"""Rule sft_matched: the matched-compute control, SFT continued from the SFT adapter for as many
training FLOPs as the pairs and DPO jobs took (sftdpo.flops.matched_steps)."""

from pathlib import Path

from sftdpo.compute import RECORD_NAME
from sftdpo.context import read_fitted
from sftdpo.flops import matched_steps
from sftdpo.io import read_json
from sftdpo.modeling import load_tokenizer
from sftdpo.runtime import start_job
from sftdpo.tasks import load_task_with_meta
from sftdpo.trackers import TrainingRun
from sftdpo.training import build_matched_trainer, train_and_save

sm = snakemake  # noqa: F821 - injected by Snakemake
meter = start_job(sm, sm.params.spec)
settings = sm.params.settings
if sm.input.get("selected"):  # SFT was tuned: the chosen candidate's settings
    settings = settings | {"sft": settings["sft"] | read_json(sm.input.selected)["settings"]}
sft_record = read_json(Path(sm.input.sft) / RECORD_NAME)
budget = read_json(sm.input.pairs)["flops"] + read_json(Path(sm.input.dpo) / RECORD_NAME)["flops"]
steps = matched_steps(sft_record, budget)
print(f"matching {budget:.4g} FLOPs of pairs and DPO: {steps} steps of SFT's "
      f"{sft_record['global_steps']}")
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
trainer, sharing = build_matched_trainer(
    model_dir=sm.input.model,
    spec=sm.params.spec,
    task=task,
    train_items=read_fitted(task, sm.params.task, sm.input.train, sm.input.model,
                            load_tokenizer(sm.input.model), sm.params.context_length),
    sft_adapter_dir=sm.input.sft,
    settings=settings,
    steps=steps,
    sft_steps=sft_record["global_steps"],
    seed=sm.params.seed,
    device=meter.device,
    out_dir=sm.output[0],
    run=TrainingRun.of(sm.wildcards, "sft_matched"),
)
train_and_save(trainer, sm.output[0], meter, sharing=sharing)
