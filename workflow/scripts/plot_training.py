"""Rule figure_training: SFT loss (the matched control's continuing it) and DPO loss / reward
margin curves of one model and task."""

from pathlib import Path

from sftdpo.figures import plot_training_curves
from sftdpo.io import read_json
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
plot_training_curves(
    read_json(Path(sm.input.sft) / "log_history.json"),
    read_json(Path(sm.input.dpo) / "log_history.json"),
    f"{sm.wildcards.task}, {sm.wildcards.model}",
    sm.output.png.removesuffix(".png"),
    read_json(Path(sm.input.matched) / "log_history.json") if sm.input.get("matched") else (),
)
