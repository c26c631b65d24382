# The optional LLM judge (config judge:, JUDGE_MODEL in common.smk) grades every summary 1-5.
rule judge:
    input:
        judge_model=lambda wildcards: expand(rules.model.output[0], model=JUDGE_MODEL)[0],
        evaluated=getattr(rules.data.output, EVALUATED_SPLIT),
        generations=rules.generate.output.generations,
        meta=rules.data.output.meta,
        context=lambda wildcards: expand(
            rules.check_context.output[0], model=JUDGE_MODEL, task=wildcards.task
        ),
    output:
        grades=out("results/judge/{model}/{task}/seed{seed}/{method}.jsonl"),
        compute=out("results/judge/{model}/{task}/seed{seed}/{method}.compute.json"),
    log:
        out("logs/judge/{model}/{task}/seed{seed}/{method}.log"),
    benchmark:
        out("benchmarks/judge/{model}/{task}/seed{seed}/{method}.tsv")
    conda:
        "../envs/sftdpo.yaml"
    threads: THREADS_PER_GPU
    resources:
        gpu=1,
        mem_mb=model_job_mem_mb("judge"),
    params:
        task=task_spec,
        judge=canonical(JUDGE),
        judge_spec=canonical(MODEL_SPECS.get(JUDGE_MODEL)),
        context_length=config["context_length"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/judge_summaries.py"
