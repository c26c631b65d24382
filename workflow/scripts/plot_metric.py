"""Rule figure_metric: base / SFT / DPO bars with CIs for one task and metric, every model."""

import pandas as pd

from sftdpo.figures import dpo_vs_sft_p, plot_method_bars
from sftdpo.io import read_json
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
metrics = {key: read_json(path) for key, path in zip(sm.params.model_methods, sm.input.metrics,
                                                     strict=True)}
p_values = {model: dpo_vs_sft_p(pd.read_csv(path), sm.wildcards.metric)
            for model, path in zip(sm.params.models, sm.input.stats, strict=True)}
plot_method_bars(metrics, sm.wildcards.metric, sm.wildcards.task, p_values,
                 sm.output.png.removesuffix(".png"))
