"""Rule model: write the configured base model as a local Hugging Face folder, checked: a
config, weights and a tokenizer the workflow can load, without code of the model's own unless
its entry allows it (sftdpo.modeling.check_model_folder)."""

from sftdpo.modeling import materialise_model
from sftdpo.runtime import redirect_output

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
materialise_model(sm.params.spec, sm.output[0], name=sm.wildcards.model)
