# The workflow is workflow/Snakefile (the layout Snakemake's workflow catalog and `module` users
# expect); this file runs it from the checkout, as README.md's commands do:
# `snakemake --cores 2 all`.


include: "workflow/Snakefile"


# An included file's default target does not carry over to the including one: the same as
# workflow/Snakefile's (rule all), for a plain `snakemake --cores 2`.
workflow.default_target = "all"
