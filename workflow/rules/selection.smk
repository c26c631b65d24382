# Tuning on validation (the design: sftdpo/selection.py). Where sft.learning_rate, dpo.beta or
# dpo.learning_rate is a list, each candidate trains, generates on the validation split and is
# scored there; the best per model, task, seed and method is copied to the adapter folder the
# later stages read (pairs and DPO from the chosen SFT, test generation from both). Nothing
# here is defined where nothing is tuned. The DAG stays static (no checkpoint): the copy job
# waits for every candidate and reads the choice from selected.json.
if TUNED:
    # Each candidate's folder: results/selection/{model}/{task}/seed{seed}/{method}/{candidate}.
    CANDIDATE = out("results/selection/{model}/{task}/seed{seed}/{method}/{candidate}")
    CANDIDATE_ADAPTER = f"{CANDIDATE}/adapter"
    TUNED_CONSTRAINTS = {
        "method": "|".join(TUNED),
        "candidate": "|".join(re.escape(name) for stage in TUNED for name, _ in CANDIDATES[stage]),
    }

    if "sft" in TUNED:

        rule sft_candidate:
            input:
                model=rules.model.output[0],
                train=rules.data.output.train,
                validation=rules.data.output.validation,
                meta=rules.data.output.meta,
                context=rules.check_context.output[0],
            output:
                directory(CANDIDATE_ADAPTER.replace("{method}", "sft")),
            wildcard_constraints:
                candidate=TUNED_CONSTRAINTS["candidate"],
            params:
                spec=model_spec,
                task=task_spec,
                settings=candidate_settings("sft"),
                context_length=config["context_length"],
                seed=lambda wildcards: int(wildcards.seed),
            threads: 8
            priority: TRAINING_PRIORITY
            resources:
                gpu=1,
                mem_mb=model_job_mem_mb("sft_candidate"),
            log:
                out("logs/selection/sft/{model}/{task}/seed{seed}/{candidate}.log"),
            conda:
                "../../envs/sftdpo.yaml"
            benchmark:
                out("benchmarks/selection/sft/{model}/{task}/seed{seed}/{candidate}.tsv")
            script:
                "../scripts/train_sft.py"

    if "dpo" in TUNED:

        rule dpo_candidate:
            input:
                model=rules.model.output[0],
                # The chosen SFT where SFT is tuned too.
                sft=SFT_ADAPTER,
                pairs=rules.pairs.output.pairs,
            output:
                directory(CANDIDATE_ADAPTER.replace("{method}", "dpo")),
            wildcard_constraints:
                candidate=TUNED_CONSTRAINTS["candidate"],
            params:
                spec=model_spec,
                settings=candidate_settings("dpo"),
                seed=lambda wildcards: int(wildcards.seed),
            threads: 8
            priority: TRAINING_PRIORITY
            resources:
                gpu=1,
                mem_mb=model_job_mem_mb("dpo_candidate"),
            log:
                out("logs/selection/dpo/{model}/{task}/seed{seed}/{candidate}.log"),
            conda:
                "../../envs/sftdpo.yaml"
            benchmark:
                out("benchmarks/selection/dpo/{model}/{task}/seed{seed}/{candidate}.tsv")
            script:
                "../scripts/train_dpo.py"

    # A candidate's answers on the validation split (never the test split).
    rule validate_candidate:
        input:
            model=rules.model.output[0],
            evaluated=rules.data.output.validation,
            meta=rules.data.output.meta,
            context=rules.check_context.output[0],
            adapter=CANDIDATE_ADAPTER,
        output:
            generations=f"{CANDIDATE}/validation.jsonl",
            compute=f"{CANDIDATE}/validation.compute.json",
        wildcard_constraints:
            **TUNED_CONSTRAINTS,
        params:
            spec=model_spec,
            task=task_spec,
            context_length=config["context_length"],
            batch_size=config["generation"]["batch_size"],
            evaluation=config["evaluation"]["mode"],
            seed=lambda wildcards: int(wildcards.seed),
        threads: 8
        resources:
            gpu=1,
            mem_mb=model_job_mem_mb("validate_candidate"),
        log:
            out("logs/selection/validate/{model}/{task}/seed{seed}/{method}/{candidate}.log"),
        conda:
            "../../envs/sftdpo.yaml"
        benchmark:
            out("benchmarks/selection/validate/{model}/{task}/seed{seed}/{method}/{candidate}.tsv")
        script:
            "../scripts/generate.py"

    rule score_candidate:
        input:
            evaluated=rules.data.output.validation,
            generations=rules.validate_candidate.output.generations,
            meta=rules.data.output.meta,
        output:
            predictions=f"{CANDIDATE}/validation.predictions.jsonl",
            metrics=f"{CANDIDATE}/validation.metrics.json",
        wildcard_constraints:
            **TUNED_CONSTRAINTS,
        params:
            task=task_spec,
            evaluation=config["evaluation"]["mode"],
            n_resamples=config["statistics"]["n_resamples"],
            bootstrap_seed=BOOTSTRAP_SEED,
        log:
            out("logs/selection/score/{model}/{task}/seed{seed}/{method}/{candidate}.log"),
        conda:
            "../../envs/sftdpo.yaml"
        script:
            "../scripts/score.py"

    # The choice: validation metrics and training compute records only.
    rule select_candidate:
        input:
            metrics=lambda wildcards: candidate_outputs(
                rules.score_candidate.output.metrics, wildcards, wildcards.method),
            adapters=lambda wildcards: candidate_outputs(
                CANDIDATE_ADAPTER, wildcards, wildcards.method),
        output:
            f"{SELECTION}/selected.json",
        wildcard_constraints:
            method=TUNED_CONSTRAINTS["method"],
        params:
            candidates=lambda wildcards: CANDIDATES[wildcards.method],
            metric=lambda wildcards: TASK_METRICS[wildcards.task][0],
        log:
            out("logs/selection/select/{model}/{task}/seed{seed}/{method}.log"),
        conda:
            "../../envs/sftdpo.yaml"
        script:
            "../scripts/select_candidate.py"

    # The chosen candidate's adapter where an untuned run writes its adapter.
    rule adopt_candidate:
        input:
            selected=rules.select_candidate.output[0],
            adapters=lambda wildcards: candidate_outputs(
                CANDIDATE_ADAPTER, wildcards, wildcards.method),
        output:
            directory(ADAPTER),
        wildcard_constraints:
            method=TUNED_CONSTRAINTS["method"],
        log:
            out("logs/selection/adopt/{model}/{task}/seed{seed}/{method}.log"),
        conda:
            "../../envs/sftdpo.yaml"
        script:
            "../scripts/adopt_candidate.py"

    SELECTION_KEYS = [(m, t, s, x) for m, t, s in TRAINING_KEYS for x in TUNED]

    rule selection_table:
        input:
            outputs_of(rules.select_candidate.output[0], SELECTION_KEYS),
        output:
            SELECTION_TABLE,
        params:
            selection_keys=[dict(zip(("model", "task", "seed"), key[:3], strict=False))
                            for key in SELECTION_KEYS],
            stages=canonical({stage: config[stage] for stage in ("sft", "dpo")}),
        log:
            out("logs/summary/selection.log"),
        conda:
            "../../envs/sftdpo.yaml"
        script:
            "../scripts/selection_table.py"
