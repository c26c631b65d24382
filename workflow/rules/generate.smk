rule generate:
    input:
        model=rules.model.output[0],
        # The test split, or the validation split where a run tunes (evaluation.split).
        evaluated=getattr(rules.data.output, EVALUATED_SPLIT),
        meta=rules.data.output.meta,
        context=rules.check_context.output[0],
        # base runs the model as it is; sft and dpo add their trained adapter.
        adapter=branch(
            lambda wildcards: wildcards.method != "base",
            then=ADAPTER,
        ),
    output:
        generations=out("results/generations/{model}/{task}/seed{seed}/{method}.jsonl"),
        compute=out("results/generations/{model}/{task}/seed{seed}/{method}.compute.json"),
    log:
        out("logs/generate/{model}/{task}/seed{seed}/{method}.log"),
    benchmark:
        out("benchmarks/generate/{model}/{task}/seed{seed}/{method}.tsv")
    conda:
        "../envs/sftdpo.yaml"
    threads: THREADS_PER_GPU
    resources:
        gpu=1,
        mem_mb=model_job_mem_mb("generate"),
    params:
        spec=model_spec,
        task=task_spec,
        context_length=config["context_length"],
        batch_size=config["generation"]["batch_size"],
        evaluation=config["evaluation"]["mode"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/generate.py"
