"""Rule select_candidate: the tuned stage's best candidate on the validation split
(sftdpo.selection.select), from the candidates' validation metrics and training compute
records; no test-split file is an input."""

from pathlib import Path

from sftdpo.compute import RECORD_NAME
from sftdpo.io import read_json, write_json
from sftdpo.runtime import redirect_output
from sftdpo.selection import selection_record

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
selection = selection_record(
    method=sm.wildcards.method,
    metric=sm.params.metric,
    candidate_settings=[(name, dict(settings)) for name, settings in sm.params.candidates],
    # An untuned stage's one candidate has no validation scores (none is needed to choose).
    metrics=[read_json(path) for path in sm.input.metrics] or [{}] * len(sm.params.candidates),
    records=[read_json(Path(folder) / RECORD_NAME) for folder in sm.input.adapters],
)
write_json(sm.output[0], selection)
print(selection)
