# The matched-compute control (decision.matched_control): SFT continued from the SFT adapter on
# the same training items for as many training FLOPs as the pairs and DPO jobs took together,
# read from their compute records, with SFT's settings and schedule shape. DPO against it is
# the primary comparison: whether DPO's gain comes from its preference pairs or from its extra
# compute.
rule sft_matched:
    input:
        model=rules.model.output[0],
        sft=SFT_ADAPTER,
        train=rules.data.output.train,
        meta=rules.data.output.meta,
        context=rules.check_context.output[0],
        # The compute to match: the pairs job's record and DPO's (its adapter folder).
        pairs=rules.pairs.output.compute,
        dpo=DPO_ADAPTER,
        # Where SFT is tuned, the chosen candidate's settings (selection.smk).
        selected=f"{SELECTION}/selected.json".replace("{method}", "sft") if "sft" in TUNED else [],
    output:
        directory(MATCHED_ADAPTER),
    log:
        out("logs/sft_matched/{model}/{task}/seed{seed}.log"),
    benchmark:
        out("benchmarks/sft_matched/{model}/{task}/seed{seed}.tsv")
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    threads: THREADS_PER_GPU * PROCESSES["sft"]
    resources:
        gpu=PROCESSES["sft"],
        mem_mb=model_job_mem_mb("sft_matched"),
    params:
        spec=model_spec,
        task=task_spec,
        settings=training_settings("sft"),
        context_length=config["context_length"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/train_matched.py"
