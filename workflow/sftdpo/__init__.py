"""Clinical SFT-vs-DPO workflow: the library that the Snakemake scripts and the tests import."""
