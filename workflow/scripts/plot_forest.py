"""Rule figure_forest: the primary difference of every task and model, with its interval, the
margin and the verdict (sftdpo.forest)."""

import pandas as pd

from sftdpo.forest import plot_forest
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
plot_forest(pd.read_csv(sm.input.verdicts), sm.output.png.removesuffix(".png"))
