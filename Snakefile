# Does SFT alone suffice, or does DPO after SFT pay for its extra compute?
# One experiment = models x tasks x methods (base, sft, sft_matched, dpo), declared in
# config/config.yaml. Stages, one file each under workflow/rules/: model, data, sft, pairs,
# dpo, control (the matched-compute control), selection (tuning on validation), generate,
# score, stats, summary, figures; targets.smk names parts of it.
# `snakemake --cores 2 all` runs everything; see README.md for the other targets.

# The default experiment only when no --configfile is given: a given file replaces it rather than
# merging into it (a merge would add the default's model and tasks to the user's).
if not workflow.configfiles:

    configfile: "config/config.yaml"



include: "workflow/rules/common.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/sft.smk"
include: "workflow/rules/pairs.smk"
include: "workflow/rules/dpo.smk"
include: "workflow/rules/control.smk"
include: "workflow/rules/selection.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/judge.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/compute.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/targets.smk"


# The report's first page: the forest plot and the decision rule, once a run has drawn them
# (rule figure_forest; a data URI, as docutils' embeddedfigure in Snakemake 9.27 leaves the
# image's path), else the same page without the picture.
LANDING = (str(Path(REPORT_LANDING).absolute()) if Path(REPORT_LANDING).is_file()
           else "workflow/report/workflow.rst")


report: LANDING


# A job the kernel killed (Snakemake: "died with <Signals.SIGKILL: 9>") is named on the console
# as most likely out of memory, with the estimate and the advice its log's first line gives
# (sftdpo.job_memory.check_job, killed_jobs_report).
onerror:
    import sys

    from sftdpo.job_memory import killed_jobs_report

    if killed := killed_jobs_report(log):
        print(killed, file=sys.stderr)


rule all:
    input:
        rules.summary.output,
        rules.compute.output,
        FIGURES,
        # Every tuning candidate, where a stage is tuned on validation (selection.smk).
        SELECTION_TABLE if TUNED else [],
    default_target: True
