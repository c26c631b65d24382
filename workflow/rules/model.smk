rule model:
    input:
        model_inputs,
    output:
        directory("resources/models/{model}"),
    params:
        # What the folder is made from, not how jobs load it (attention, quantization): an
        # experiment that loads the same model otherwise does not re-make the folder.
        spec=materialised_model_spec,
    priority: TRAINING_PRIORITY
    log:
        "logs/model/{model}.log",
    conda:
        "../../envs/sftdpo.yaml"
    script:
        "../scripts/materialise_model.py"
