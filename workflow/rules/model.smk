rule model:
    input:
        model_inputs,
    output:
        directory("resources/models/{model}"),
    log:
        "logs/model/{model}.log",
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    params:
        # What the folder is made from, not how jobs load it (attention, quantization): an
        # experiment that loads the same model otherwise does not re-make the folder.
        spec=materialised_model_spec,
    script:
        "../scripts/materialise_model.py"
