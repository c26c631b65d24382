# DPO of each candidate (one where the stage is not tuned) from the chosen SFT: its adapter in
# the candidate's folder; the chosen one is copied to results/adapters/.../dpo (selection.smk,
# adopt_candidate).
rule dpo:
    input:
        model=rules.model.output[0],
        sft=SFT_ADAPTER,
        pairs=rules.pairs.output.pairs,
    output:
        directory(candidate_adapter("dpo")),
    log:
        out("logs/dpo/{model}/{task}/seed{seed}/{candidate}.log"),
    benchmark:
        out("benchmarks/dpo/{model}/{task}/seed{seed}/{candidate}.tsv")
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    threads: THREADS_PER_GPU * PROCESSES["dpo"]
    resources:
        gpu=PROCESSES["dpo"],
        mem_mb=model_job_mem_mb("dpo"),
    params:
        spec=model_spec,
        settings=candidate_settings("dpo"),
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/train_dpo.py"
