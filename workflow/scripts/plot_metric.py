"""Rule figure_metric: every method's bars with CIs (or SDs over seeds) for one task and
metric, every model, with the P values of DPO against its comparators."""

import pandas as pd

from sftdpo.figures import comparison_brackets, over_seeds, plot_method_bars
from sftdpo.io import read_json
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
metric = sm.wildcards.metric
per_seed = {}
for (model, method), path in zip(sm.params.model_methods, sm.input.metrics, strict=True):
    per_seed.setdefault((model, method), []).append(read_json(path))
# The P values of DPO against its comparators per model, as the table prints them.
brackets = {model: comparison_brackets(pd.read_csv(path), metric)
            for model, path in zip(sm.params.stats_models, sm.input.stats, strict=True)}
plot_method_bars({key: over_seeds(entries, metric) for key, entries in per_seed.items()},
                 metric, sm.wildcards.task, brackets, sm.output.png.removesuffix(".png"))
