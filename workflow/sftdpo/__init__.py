"""Clinical SFT-vs-DPO workflow: the library that the Snakemake scripts and the tests import."""

# The versions of a model every task compares: as it is, after SFT, after SFT continued for the
# compute DPO took (the matched-compute control; decision.matched_control), after DPO on SFT.
METHODS = ("base", "sft", "sft_matched", "dpo")
