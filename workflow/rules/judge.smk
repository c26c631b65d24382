# The optional LLM judge (config judge:): a model of the config grades every summary 1-5.
JUDGE = config.get("judge")


rule judge:
    input:
        judge_model=lambda wildcards: expand(rules.model.output[0], model=JUDGE["model"])[0],
        evaluated=getattr(rules.data.output, EVALUATED_SPLIT),
        generations=rules.generate.output.generations,
        meta=rules.data.output.meta,
    output:
        grades="results/judge/{model}/{task}/seed{seed}/{method}.jsonl",
        compute="results/judge/{model}/{task}/seed{seed}/{method}.compute.json",
    params:
        task=task_spec,
        judge=JUDGE,
        judge_spec=lambda wildcards: config["models"][JUDGE["model"]],
        sft_max_length=config["sft"]["max_length"],
        seed=lambda wildcards: int(wildcards.seed),
    threads: 8
    resources:
        gpu=1,
    log:
        "logs/judge/{model}/{task}/seed{seed}/{method}.log",
    conda:
        "../../envs/sftdpo.yaml"
    benchmark:
        "benchmarks/judge/{model}/{task}/seed{seed}/{method}.tsv"
    script:
        "../scripts/judge_summaries.py"
