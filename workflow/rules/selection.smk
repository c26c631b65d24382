# Each training stage's choice among its candidates (the design: sftdpo/selection.py), the same
# rules whether a stage is tuned or not. Rules sft and dpo train every candidate in
# results/selection/{model}/{task}/seed{seed}/{method}/{candidate}/adapter. Where a stage is
# tuned (sft.learning_rate, dpo.beta or dpo.learning_rate a list), each candidate also generates
# on the validation split and is scored there, and the best per model, task, seed and method is
# chosen (selected.json); otherwise its one candidate is the choice and nothing is generated or
# scored on validation. Either way the chosen adapter is copied to the adapter folder the later
# stages read (pairs and DPO from the chosen SFT, test generation from both). The DAG stays
# static (no checkpoint): the copy job waits for every candidate and reads the choice from
# selected.json.


# A candidate's answers on the validation split (never the test split): rule generate's job on
# the candidate's adapter.
use rule generate as validate_candidate with:
    input:
        model=rules.model.output[0],
        evaluated=rules.data.output.validation,
        meta=rules.data.output.meta,
        context=rules.check_context.output[0],
        adapter=CANDIDATE_ADAPTER,
    output:
        generations=f"{CANDIDATE}/validation.jsonl",
        compute=f"{CANDIDATE}/validation.compute.json",
    log:
        out("logs/selection/validate/{model}/{task}/seed{seed}/{method}/{candidate}.log"),
    benchmark:
        out("benchmarks/selection/validate/{model}/{task}/seed{seed}/{method}/{candidate}.tsv")
    wildcard_constraints:
        method="|".join(CANDIDATES),


# Its scores on the validation split: rule score's job on those answers (never judged).
use rule score as score_candidate with:
    input:
        evaluated=rules.data.output.validation,
        generations=rules.validate_candidate.output.generations,
        meta=rules.data.output.meta,
    output:
        predictions=f"{CANDIDATE}/validation.predictions.jsonl",
        metrics=f"{CANDIDATE}/validation.metrics.json",
    log:
        out("logs/selection/score/{model}/{task}/seed{seed}/{method}/{candidate}.log"),
    wildcard_constraints:
        method="|".join(CANDIDATES),


# The choice: validation metrics (where there is more than one candidate to choose from) and
# training compute records only.
rule select_candidate:
    input:
        metrics=lambda wildcards: (
            candidate_outputs(rules.score_candidate.output.metrics, wildcards, wildcards.method)
            if wildcards.method in TUNED
            else []
        ),
        adapters=lambda wildcards: candidate_outputs(CANDIDATE_ADAPTER, wildcards, wildcards.method),
    output:
        f"{SELECTION}/selected.json",
    log:
        out("logs/selection/select/{model}/{task}/seed{seed}/{method}.log"),
    wildcard_constraints:
        method="|".join(CANDIDATES),
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    params:
        candidates=lambda wildcards: CANDIDATES[wildcards.method],
        metric=lambda wildcards: TASK_METRICS[wildcards.task][0],
    script:
        "../scripts/select_candidate.py"


# The chosen candidate's adapter where the later stages read it: the one candidate where the
# stage is not tuned, else the one selected.json names.
rule adopt_candidate:
    input:
        selected=branch(
            lambda wildcards: wildcards.method in TUNED,
            then=rules.select_candidate.output[0],
        ),
        adapters=lambda wildcards: candidate_outputs(CANDIDATE_ADAPTER, wildcards, wildcards.method),
    output:
        directory(ADAPTER),
    log:
        out("logs/selection/adopt/{model}/{task}/seed{seed}/{method}.log"),
    wildcard_constraints:
        method="|".join(CANDIDATES),
    priority: TRAINING_PRIORITY
    conda:
        "../envs/sftdpo.yaml"
    script:
        "../scripts/adopt_candidate.py"


# Every tuned stage's candidates, gathered (rule all asks for it where a stage is tuned).
SELECTION_KEYS = [(m, t, s, x) for m, t, s in TRAINING_KEYS for x in TUNED]


rule selection_table:
    input:
        outputs_of(rules.select_candidate.output[0], SELECTION_KEYS),
    output:
        SELECTION_TABLE,
    log:
        out("logs/summary/selection.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        selection_keys=[
            dict(zip(("model", "task", "seed"), key[:3], strict=False)) for key in SELECTION_KEYS
        ],
        stages=canonical({stage: config[stage] for stage in ("sft", "dpo")}),
    script:
        "../scripts/selection_table.py"
