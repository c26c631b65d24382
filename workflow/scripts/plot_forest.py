"""Rule figure_forest: the primary difference of every task and model, with its interval, the
margin and the verdict (sftdpo.forest), and the HTML report's first page, which shows it."""

import pandas as pd

from sftdpo.decision import rule_text
from sftdpo.forest import landing_page, plot_forest
from sftdpo.io import write_text
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
verdicts = pd.read_csv(sm.input.verdicts)
plot_forest(verdicts, sm.output.png.removesuffix(".png"))
decision = sm.params.decision
write_text(sm.output.landing, landing_page(
    sm.output.png, verdicts,
    rule_text(decision["matched_control"], sm.params.n_primary, decision["alpha"],
              decision["power"])))
