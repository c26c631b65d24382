rule generate:
    input:
        model=rules.model.output[0],
        test=rules.data.output.test,
        meta=rules.data.output.meta,
        # base runs the model as it is; sft and dpo add their trained adapter.
        adapter=branch(
            lambda wildcards: wildcards.method != "base",
            then="results/adapters/{model}/{task}/{method}",
        ),
    output:
        generations="results/generations/{model}/{task}/{method}.jsonl",
        summary="results/generations/{model}/{task}/{method}.summary.json",
    params:
        spec=model_spec,
        task=task_spec,
        sft_max_length=config["sft"]["max_length"],
        batch_size=config["generation"]["batch_size"],
        seed=config["seed"],
    threads: 8
    log:
        "logs/generate/{model}/{task}/{method}.log",
    conda:
        "../../envs/sftdpo.yaml"
    benchmark:
        "benchmarks/generate/{model}/{task}/{method}.tsv"
    script:
        "../scripts/generate.py"
