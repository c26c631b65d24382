rule pairs:
    input:
        model=rules.model.output[0],
        sft=SFT_ADAPTER,
        train=rules.data.output.train,
        meta=rules.data.output.meta,
        context=rules.check_context.output[0],
    output:
        pairs=out("results/pairs/{model}/{task}/seed{seed}.jsonl"),
        compute=out("results/pairs/{model}/{task}/seed{seed}.compute.json"),
        counts=out("results/pairs/{model}/{task}/seed{seed}.counts.json"),
    log:
        out("logs/pairs/{model}/{task}/seed{seed}.log"),
    benchmark:
        out("benchmarks/pairs/{model}/{task}/seed{seed}.tsv")
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    threads: THREADS_PER_GPU
    resources:
        gpu=1,
        mem_mb=model_job_mem_mb("pairs"),
    params:
        spec=model_spec,
        task=pairs_task_spec,
        context_length=config["context_length"],
        batch_size=config["generation"]["batch_size"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/build_pairs.py"
