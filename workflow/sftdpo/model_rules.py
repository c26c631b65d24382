"""The workflow's rules that run a model, in one place: each declares ``resources: gpu=1`` (a
training rule its stage's ``processes``: sftdpo.launch) and takes a GPU job's resources in the
SLURM profile (slurm/config.yaml, pinned equal by tests/test_slurm.py), one thread each in
``make run`` (the Makefile reads this file: ``python workflow/sftdpo/model_rules.py`` prints
the names), and its memory estimate by the stage it runs (sftdpo.job_memory)."""

# Rule -> the stage whose memory it needs: a tuning candidate's answers on the validation split
# (validate_candidate) are a generation.
MODEL_RULES = {
    "sft": "sft",
    "pairs": "pairs",
    "dpo": "dpo",
    "sft_matched": "sft_matched",
    "generate": "generate",
    "validate_candidate": "generate",
    "judge": "judge",
}

if __name__ == "__main__":
    print(" ".join(MODEL_RULES))
