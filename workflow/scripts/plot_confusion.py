"""Rule figure_confusion: a label task's confusion matrix for every method."""

from sftdpo.figures import plot_confusion_matrices
from sftdpo.io import read_jsonl
from sftdpo.runtime import redirect_output
from sftdpo.tasks import load_task_with_meta

sm = snakemake  # noqa: F821 - injected by Snakemake
redirect_output(sm.log[0])
task = load_task_with_meta(sm.wildcards.task, sm.params.task, sm.input.meta)
counts = plot_confusion_matrices(
    {method: read_jsonl(sm.input[method]) for method in sm.params.methods},
    list(task.labels),
    f"{sm.wildcards.task}, {sm.wildcards.model}",
    sm.output.png.removesuffix(".png"),
)
print(counts)
