"""Rule model: write the configured base model as a local Hugging Face folder."""

from sftdpo.modeling import materialise_model
from sftdpo.runtime import redirect_output

redirect_output(snakemake.log[0])  # noqa: F821 - injected by Snakemake
materialise_model(snakemake.params.spec, snakemake.output[0])  # noqa: F821
