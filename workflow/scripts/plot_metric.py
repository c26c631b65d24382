"""Rule figure_metric: base / SFT / DPO bars with CIs (or SDs over seeds) for one task and
metric, every model, with P(Holm) of DPO vs SFT."""

import pandas as pd

from sftdpo.figures import dpo_vs_sft_p, over_seeds, plot_method_bars
from sftdpo.io import read_json
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
metric = sm.wildcards.metric
per_seed = {}
for (model, method), path in zip(sm.params.model_methods, sm.input.metrics, strict=True):
    per_seed.setdefault((model, method), []).append(read_json(path))
# P(Holm) of DPO vs SFT per model: of its one seed, or of the test over all seeds.
p_values = {model: dpo_vs_sft_p(pd.read_csv(path), metric)
            for model, path in zip(sm.params.stats_models, sm.input.stats, strict=True)}
plot_method_bars({key: over_seeds(entries, metric) for key, entries in per_seed.items()},
                 metric, sm.wildcards.task, p_values, sm.output.png.removesuffix(".png"))
