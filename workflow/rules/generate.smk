rule generate:
    input:
        model=rules.model.output[0],
        test=rules.data.output.test,
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
        generation=config["generation"],
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
