# SFT of each candidate (one where the stage is not tuned): its adapter in the candidate's folder;
# the chosen one is copied to results/adapters/.../sft (selection.smk, adopt_candidate).
rule sft:
    input:
        model=rules.model.output[0],
        train=rules.data.output.train,
        validation=rules.data.output.validation,
        meta=rules.data.output.meta,
        context=rules.check_context.output[0],
    output:
        directory(candidate_adapter("sft")),
    log:
        out("logs/sft/{model}/{task}/seed{seed}/{candidate}.log"),
    benchmark:
        out("benchmarks/sft/{model}/{task}/seed{seed}/{candidate}.tsv")
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    threads: THREADS_PER_GPU * PROCESSES["sft"]
    resources:
        gpu=PROCESSES["sft"],
        mem_mb=model_job_mem_mb("sft"),
    params:
        spec=model_spec,
        task=task_spec,
        settings=candidate_settings("sft"),
        context_length=config["context_length"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/train_sft.py"
