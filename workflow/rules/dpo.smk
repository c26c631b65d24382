# Tuned (a list of settings), the stage's candidates train in selection.smk instead.
if "dpo" not in TUNED:

    rule dpo:
        input:
            model=rules.model.output[0],
            sft=SFT_ADAPTER,
            pairs=rules.pairs.output.pairs,
        output:
            directory(DPO_ADAPTER),
        params:
            spec=model_spec,
            settings=training_settings("dpo"),
            seed=lambda wildcards: int(wildcards.seed),
        threads: 8
        priority: TRAINING_PRIORITY
        resources:
            gpu=1,
            mem_mb=model_job_mem_mb("dpo"),
        log:
            out("logs/dpo/{model}/{task}/seed{seed}.log"),
        conda:
            "../../envs/sftdpo.yaml"
        benchmark:
            out("benchmarks/dpo/{model}/{task}/seed{seed}.tsv")
        script:
            "../scripts/train_dpo.py"
