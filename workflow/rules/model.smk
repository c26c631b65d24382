rule model:
    input:
        model_inputs,
    output:
        directory("resources/models/{model}"),
    params:
        spec=model_spec,
    priority: TRAINING_PRIORITY
    log:
        "logs/model/{model}.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/materialise_model.py"
