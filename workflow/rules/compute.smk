# What every training and generation job cost (its compute record), gathered in one table with
# DPO's whole extra cost (pairs + dpo) over SFT's per model and task: results/summary/compute.csv.
COMPUTE_KEYS = (
    [
        {"model": m, "task": t, "seed": s, "stage": stage}
        for m, t, s in TRAINING_KEYS
        for stage in ("sft", "pairs", "dpo")
    ]
    # The matched-compute control: SFT continued for about DPO's extra training FLOPs.
    + [
        {"model": m, "task": t, "seed": s, "stage": "sft_matched"}
        for m, t, s in TRAINING_KEYS
        if CONTROL
    ]
    + [
        {"model": m, "task": t, "seed": s, "stage": "generate", "method": x}
        for m, t, s, x in METRIC_KEYS
    ]
    + [
        {"model": m, "task": t, "seed": s, "stage": "judge", "method": x}
        for m, t, s, x in METRIC_KEYS
        if JUDGE is not None and TASK_KIND[t] == "summary"
    ]
)


TUNING_RECORDS = tuning_records()


rule compute:
    input:
        records=[compute_record(key) for key in COMPUTE_KEYS] + [path for _, path in TUNING_RECORDS],
    output:
        report(
            out("results/summary/compute.csv"),
            caption="../report/compute.rst",
            category="Summary",
        ),
    log:
        out("logs/summary/compute.log"),
    conda:
        "../envs/sftdpo.yaml"
    params:
        record_keys=COMPUTE_KEYS + [key for key, _ in TUNING_RECORDS],
    script:
        "../scripts/gather_compute.py"
