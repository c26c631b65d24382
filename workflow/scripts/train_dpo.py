"""Rule dpo: DPO starting from the SFT adapter, with the SFT model as the reference."""

from sftdpo.io import read_jsonl
from sftdpo.runtime import start_job
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
    # dpo, or a tuning candidate's dpo_candidate
    run=TrainingRun.of(sm.wildcards, "dpo"),
)
train_and_save(trainer, sm.output[0], meter, sharing=sharing)
