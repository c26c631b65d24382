# The optional LLM judge (config judge:): a model of the config grades every summary 1-5.
JUDGE = config.get("judge")


rule judge:
    input:
        judge_model=lambda wildcards: expand(rules.model.output[0], model=JUDGE["model"])[0],
        test=rules.data.output.test,
        generations=rules.generate.output.generations,
        meta=rules.data.output.meta,
    output:
        "results/judge/{model}/{task}/{method}.jsonl",
    params:
        task=task_spec,
        judge=JUDGE,
        judge_spec=lambda wildcards: config["models"][JUDGE["model"]],
        sft_max_length=config["sft"]["max_length"],
        seed=config["seed"],
    threads: 8
    log:
        "logs/judge/{model}/{task}/{method}.log",
    conda:
        "../../envs/sftdpo.yaml"
    benchmark:
        "benchmarks/judge/{model}/{task}/{method}.tsv"
    script:
        "../scripts/judge_summaries.py"
