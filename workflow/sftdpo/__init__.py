"""Clinical SFT-vs-DPO workflow: the library that the Snakemake scripts and the tests import."""

# The three versions of a model every task compares: as it is, after SFT, after DPO on SFT.
METHODS = ("base", "sft", "dpo")
