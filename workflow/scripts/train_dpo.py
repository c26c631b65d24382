"""Rule dpo: DPO starting from the SFT adapter, with the SFT model as the reference."""

from sftdpo.io import read_jsonl
from sftdpo.runtime import start_job
from sftdpo.selection import UNTUNED
from sftdpo.trackers import TrainingRun
from sftdpo.training import build_dpo_trainer, train_and_save

sm = snakemake  # noqa: F821 - injected by Snakemake
meter = start_job(sm, sm.params.spec)
trainer, sharing = build_dpo_trainer(
    model_dir=sm.input.model,
    spec=sm.params.spec,
    sft_adapter_dir=sm.input.sft,
    pairs=read_jsonl(sm.input.pairs),
    settings=sm.params.settings,
    seed=sm.params.seed,
    device=meter.device,
    out_dir=sm.output[0],
    # Named by its candidate where the stage is tuned.
    run=TrainingRun(sm.wildcards.model, sm.wildcards.task, sm.params.seed, "dpo",
                    None if sm.wildcards.candidate == UNTUNED else sm.wildcards.candidate),
)
train_and_save(trainer, sm.output[0], meter, sharing=sharing)
