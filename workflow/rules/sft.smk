# Tuned (a list of settings), the stage's candidates train in selection.smk instead.
if "sft" not in TUNED:

    rule sft:
        input:
            model=rules.model.output[0],
            train=rules.data.output.train,
            validation=rules.data.output.validation,
            meta=rules.data.output.meta,
            context=rules.check_context.output[0],
        output:
            directory(SFT_ADAPTER),
        params:
            spec=model_spec,
            task=task_spec,
            settings=training_settings("sft"),
            context_length=config["context_length"],
            seed=lambda wildcards: int(wildcards.seed),
        threads: 8
        priority: TRAINING_PRIORITY
        resources:
            gpu=1,
            mem_mb=model_job_mem_mb("sft"),
        log:
            out("logs/sft/{model}/{task}/seed{seed}.log"),
        conda:
            "../../envs/sftdpo.yaml"
        benchmark:
            out("benchmarks/sft/{model}/{task}/seed{seed}.tsv")
        script:
            "../scripts/train_sft.py"
