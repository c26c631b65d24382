"""Compute accounting: the job meter on a CPU, the token counts of training and inference, the
table and DPO/SFT ratios of hand-made records, and the errors of bad records."""

import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from sftdpo import inference
from sftdpo.compute import (
    COLUMNS,
    ComputeRecordError,
    block_parameters,
    compute_csv,
    compute_table,
    dpo_over_sft_ratios,
    head_parameters,
    inference_flops,
    load_record,
    trainable_parameters,
)
from sftdpo.inference import (
    answer_logprobs,
    generate_answers,
    render_completion,
    render_prompt,
    shared_prefix_length,
)
from sftdpo.modeling import load_base_model, load_tokenizer, load_with_adapter
from sftdpo.runtime import JobMeter
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.training import build_dpo_trainer, build_sft_trainer, train_and_save

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
SPEC = {"dtype": "float32", "quantization": "none"}
TASK = BUILTIN_TASKS["provider_triage"]
STAGE = {"epochs": 2, "batch_size": 4, "gradient_accumulation_steps": 1, "max_length": 1024,
         "lr_scheduler": "constant", "warmup_steps": 0, "gradient_checkpointing": False,
         "mixed_precision": "none", "group_by_length": False, "share_prompt": False,
         "learning_rate": 1e-3, "validation_loss": "each_epoch"}
SETTINGS = {
    "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "top_layers": None,
             "target_modules": ["q_proj", "v_proj"]},
    "sft": STAGE,
    "dpo": {**STAGE, "beta": 0.1, "loss_type": ["sigmoid"], "loss_weights": None,
            "precompute_reference": False, "precompute_batch_size": 8,
            "reference_from_pairs": True,
            "share_prompt": False},
}


@pytest.fixture(autouse=True)
def fresh_tally(monkeypatch):
    monkeypatch.setattr(inference, "TALLY", inference.TokenTally())


def record(model="m", task="t", seed=0, stage="sft", method=None, device="cpu", wall=10.0,
           accelerator=None, tokens=100, memory=500.0, flops=None, cpu=None, **extra):
    """A record; FLOPs 1e6 per token and CPU seconds twice the wall time unless given."""
    return {"model": model, "task": task, "seed": seed, "stage": stage, "method": method,
            "device": device, "flops": 1e6 * tokens if flops is None else flops,
            "cpu_seconds": 2 * wall if cpu is None and wall is not None else cpu,
            "wall_seconds": wall, "accelerator_seconds": accelerator,
            "tokens": tokens, "peak_memory_mib": memory, **extra}


def test_the_cpu_meter_times_the_job_and_reads_the_peak_resident_memory():
    """In a fresh process: 300 MiB written to must show in the peak, the 1 GiB of the process
    that started it must not; the clock runs from the meter's start; the CPU time counts
    work, not sleep; a CPU has no accelerator seconds (null, not 0)."""
    code = textwrap.dedent("""
        import json, time
        from sftdpo.runtime import JobMeter
        meter = JobMeter("cpu")
        time.sleep(0.2)
        with meter.measure():
            block = b"x" * (300 * 2**20)
            busy = time.process_time() + 0.3
            while time.process_time() < busy:
                pass
        print(json.dumps(meter.record(tokens=7, flops=1e9, items=3)))
    """)
    # Started from a launcher that has used 1 GiB: the job's peak is its own, not its
    # starter's (on Linux getrusage carries the starter's over fork and exec).
    launcher = ("import subprocess, sys; held = b'x' * 2**30; "
                f"sys.exit(subprocess.call([sys.executable, '-c', {code!r}]))")
    result = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True,
                            check=True, timeout=120)
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["device"] == "cpu" and got["tokens"] == 7 and got["items"] == 3
    assert got["flops"] == 1e9 and got["accelerator_seconds"] is None
    assert 0.5 <= got["wall_seconds"] < 30
    assert 0.3 <= got["cpu_seconds"] < got["wall_seconds"] - 0.1  # the sleep is not CPU time
    assert 300 <= got["peak_memory_mib"] < 300 + 400


def test_the_meter_clock_starts_when_the_meter_is_made():
    meter = JobMeter("cpu")
    time.sleep(0.05)
    first = meter.record(tokens=0, flops=0)["wall_seconds"]
    time.sleep(0.05)
    assert 0.05 <= first < meter.record(tokens=0, flops=0)["wall_seconds"]


def test_inference_tallies_prompt_generated_and_scored_tokens(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC, "cpu")
    prompts = [TASK.prompt_messages({"text": text}) for text in ("a", "a longer note " * 6, "b")]
    prompt_tokens = [len(tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)
                         ["input_ids"]) for p in prompts]
    before = inference.TALLY
    _, generated = generate_answers(model, tokenizer, prompts, max_new_tokens=3, batch_size=2)
    # Padding (the short prompts of a batch) is not counted.
    assert before.prompt == sum(prompt_tokens) and before.generated == generated > 0
    answers = [["urgent", "a much longer answer"], ["urgent"], ["non-urgent", "b", "c"]]
    answer_logprobs(model, tokenizer, prompts, answers, batch_size=3)
    scored = sum(len(tokenizer(render_completion(tokenizer, p, a), add_special_tokens=False)
                     ["input_ids"])
                 for p, candidates in zip(prompts, answers, strict=True) for a in candidates)
    # Nor is the padding of the shorter prompts and answers of a scoring batch.
    assert before.scored == scored
    # Scoring runs the start the three prompts share (the system turn) once for the batch.
    shared = shared_prefix_length([tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)
                                   ["input_ids"] for p in prompts])
    assert shared > 10
    assert before.prompt == sum(prompt_tokens) + sum(prompt_tokens) - 2 * shared
    assert before.processed == before.prompt + generated + scored
    # Forward FLOPs: 2 x the block parameters per token, the LM head on generated and scored
    # positions (the tiny model: 2 blocks of 9,280 parameters, a 32-wide head).
    assert block_parameters(model) == 2 * 9280
    head = head_parameters(model)
    assert head == len(tokenizer) * 32
    assert inference_flops(model, before) == pytest.approx(
        2 * 18560 * before.processed + 2 * head * (generated + scored))


def test_training_records_its_compute_with_every_non_padding_token_of_every_epoch(
        tiny_model_dir, tmp_path):
    items = TASK.build_items(10, 0)
    sft_dir = tmp_path / "sft"
    trainer = build_sft_trainer(tiny_model_dir, SPEC, TASK, items[:6], items[6:], SETTINGS,
                                seed=0, device="cpu", out_dir=sft_dir)
    per_epoch = sum(len(row["input_ids"]) for row in trainer.train_dataset)
    evaluated = sum(len(row["input_ids"]) for row in trainer.eval_dataset)
    meter = JobMeter("cpu")
    train_and_save(trainer, sft_dir, meter)
    sft = json.loads((sft_dir / "compute.json").read_text())
    assert sft["tokens"] == 2 * per_epoch
    assert sft["device"] == "cpu" and sft["accelerator_seconds"] is None
    assert sft["wall_seconds"] > 0 and sft["peak_memory_mib"] > 0
    assert 0 < sft["cpu_seconds"]
    assert sft["global_steps"] == 4 and sft["train_runtime"] > 0
    # FLOPs by hand: 2 blocks of 9,280 parameters; LoRA r=4 on q (32->32: 256) and v (32->16:
    # 192) in both: 896 trainable. A step 2 N_b (1 + 1) + 6 N_a per token; the validation
    # split's forward, 2 (N_b + N_a) per token, after each of the 2 epochs.
    blocks, adapters = 18560, 896
    assert (sft["block_parameters"], sft["trainable_parameters"]) == (blocks, adapters)
    assert sft["adapted_share"] == 1.0 and sft["evaluation_tokens"] == 2 * evaluated
    step, forward = 4 * blocks + 6 * adapters, 2 * (blocks + adapters)
    assert sft["flops"] == pytest.approx(sft["tokens"] * step + 2 * evaluated * forward)
    # For inference the adapter runs beside the weights (never merged): the active adapter
    # once per token; the base model has none.
    tally = inference.TokenTally(prompt=10, generated=2, scored=3)
    base = load_with_adapter(tiny_model_dir, SPEC, None, "cpu")
    head = head_parameters(base)
    assert inference_flops(base, tally) == pytest.approx(15 * 2 * blocks + 2 * head * 5)
    adapted = load_with_adapter(tiny_model_dir, SPEC, sft_dir, "cpu")
    assert inference_flops(adapted, tally) == pytest.approx(15 * forward + 2 * head * 5)
    assert trainable_parameters(load_with_adapter(tiny_model_dir, SPEC, sft_dir, "cpu",
                                                  trainable=True)) == adapters

    pairs = [{"prompt": TASK.prompt_messages(i), "chosen": TASK.gold(i),
              "rejected": next(x for x in TASK.labels if x != TASK.gold(i))} for i in items[:5]]
    dpo_dir = tmp_path / "dpo"
    trainer = build_dpo_trainer(tiny_model_dir, SPEC, sft_dir, pairs, SETTINGS, seed=0,
                                device="cpu", out_dir=dpo_dir)
    # The model runs prompt + chosen and prompt + rejected of every pair.
    per_epoch = sum(2 * len(row["prompt_ids"]) + len(row["chosen_ids"]) + len(row["rejected_ids"])
                    for row in trainer.train_dataset)
    train_and_save(trainer, dpo_dir)
    record = load_record(dpo_dir, {"model": "m", "task": "t", "seed": 0, "stage": "dpo"})
    assert record["tokens"] == 2 * per_epoch
    assert record["source"] == str(dpo_dir / "compute.json")
    # The reference (the frozen SFT copy) runs forward over the same sequences at every step.
    dpo = json.loads((dpo_dir / "compute.json").read_text())
    assert dpo["trainable_parameters"] == adapters and dpo["reference_tokens"] == dpo["tokens"]
    assert dpo["flops"] == pytest.approx(dpo["tokens"] * (step + forward))
    # Precomputed, it runs once over the pairs: one epoch's tokens, not two.
    settings = {**SETTINGS, "dpo": {**SETTINGS["dpo"], "precompute_reference": True}}
    trainer = build_dpo_trainer(tiny_model_dir, SPEC, sft_dir, pairs, settings, seed=0,
                                device="cpu", out_dir=tmp_path / "dpo_pre")
    train_and_save(trainer, tmp_path / "dpo_pre")
    pre = json.loads((tmp_path / "dpo_pre" / "compute.json").read_text())
    assert pre["tokens"] == 2 * per_epoch and pre["reference_tokens"] == per_epoch
    assert pre["flops"] == pytest.approx(pre["tokens"] * step + per_epoch * forward)


def hand_made_records():
    return [
        # Seed 0 and 1 on a GPU: ratios (wall, accelerator, tokens, memory) 2.5, 2.5, 2, 1.5
        # and 2, 3, 3, 1; their means 2.25, 2.75, 2.5, 1.25.
        record(seed=1, stage="dpo", device="H100", wall=400.0, accelerator=480.0, tokens=3000,
               memory=500.0),
        record(seed=0, stage="sft", device="H100", wall=100.0, accelerator=80.0, tokens=1000),
        record(seed=0, stage="dpo", device="H100", wall=250.0, accelerator=200.0, tokens=2000,
               memory=750.0),
        record(seed=1, stage="sft", device="H100", wall=200.0, accelerator=160.0, tokens=1000),
        record(seed=0, stage="pairs", device="H100", wall=30.0, accelerator=20.0, tokens=5000),
        record(seed=0, stage="generate", method="dpo", device="H100", wall=5.0, accelerator=4.0),
        record(seed=0, stage="generate", method="sft", device="H100", wall=5.0, accelerator=4.0),
        record(seed=0, stage="generate", method="base", device="H100", wall=6.0,
               accelerator=5.0),
        # A CPU task: no accelerator seconds, so no accelerator ratio; wall 3, tokens 0.5.
        record(task="c", stage="sft", wall=20.0, tokens=400),
        record(task="c", stage="dpo", wall=60.0, tokens=200),
        # SFT only (DPO not run): no ratio.
        record(task="s", stage="sft"),
    ]


def test_the_table_has_one_row_per_job_in_pipeline_order():
    table = compute_table(hand_made_records())
    assert list(table.columns) == list(COLUMNS)
    first = table[(table["task"] == "t")]
    assert list(zip(first["seed"], first["stage"], first["method"].fillna("-"),
                    strict=True)) == [
        (0, "sft", "-"), (0, "pairs", "-"), (0, "dpo", "-"), (0, "generate", "base"),
        (0, "generate", "sft"), (0, "generate", "dpo"), (1, "sft", "-"), (1, "dpo", "-")]
    assert math.isnan(table.loc[table["task"] == "c", "accelerator_seconds"].iloc[0])


def test_dpo_over_sft_ratios_are_the_mean_of_the_seeds_ratios():
    ratios = dpo_over_sft_ratios(compute_table(hand_made_records())).set_index("task")
    assert list(ratios.index) == ["c", "t"]
    gpu = ratios.loc["t"]
    assert gpu["n_seeds"] == 2 and gpu["device"] == "H100"
    assert gpu[["wall_seconds", "accelerator_seconds", "tokens", "peak_memory_mib"]].tolist() \
        == pytest.approx([2.25, 2.75, 2.5, 1.25])
    # FLOPs here are proportional to tokens, CPU seconds to wall seconds.
    assert gpu[["flops", "cpu_seconds"]].tolist() == pytest.approx([2.5, 2.25])
    cpu = ratios.loc["c"]
    assert cpu["wall_seconds"] == pytest.approx(3.0) and cpu["tokens"] == pytest.approx(0.5)
    assert math.isnan(cpu["accelerator_seconds"]) and cpu["device"] == "cpu"


def test_compute_csv_puts_each_ratio_row_after_its_jobs(tmp_path):
    rows = compute_csv(compute_table(hand_made_records()))
    path = tmp_path / "compute.csv"
    rows.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert [line.split(",")[:4] for line in lines[1:]] == [
        ["m", "c", "0", "sft"], ["m", "c", "0", "dpo"], ["m", "c", "", "dpo_over_sft"],
        ["m", "s", "0", "sft"],
        ["m", "t", "0", "sft"], ["m", "t", "0", "pairs"], ["m", "t", "0", "dpo"],
        ["m", "t", "0", "generate"], ["m", "t", "0", "generate"], ["m", "t", "0", "generate"],
        ["m", "t", "1", "sft"],
        ["m", "t", "1", "dpo"], ["m", "t", "", "dpo_over_sft"]]
    # FLOPs and CPU seconds (first) follow tokens and wall time in these records.
    assert lines[3] == "m,c,,dpo_over_sft,,cpu,0.5,3.0,3.0,,0.5,1.0"
    assert lines[5] == "m,t,0,sft,,H100,1000000000.0,200.0,100.0,80.0,1000,500.0"
    back = pd.read_csv(path)
    assert back.loc[12, "accelerator_seconds"] == pytest.approx(2.75)


def test_a_record_without_a_field_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "seed0.compute.json"
    path.write_text(json.dumps({"device": "cpu", "flops": 1.0, "cpu_seconds": 1.0,
                                "wall_seconds": 1.0, "accelerator_seconds": None,
                                "peak_memory_mib": 9.0}))
    with pytest.raises(ComputeRecordError, match=rf"{path}: compute record has no field "
                                                 r"'tokens'"):
        load_record(path, {"model": "m", "task": "t", "seed": 0, "stage": "pairs"})


def test_bad_values_and_misfiled_records_are_errors(tmp_path):
    adapter = tmp_path / "sft"
    adapter.mkdir()
    (adapter / "compute.json").write_text(json.dumps(
        {"device": "cpu", "flops": 1.0, "cpu_seconds": 1.0, "wall_seconds": 1.0,
         "accelerator_seconds": None, "tokens": 2.5, "peak_memory_mib": 9.0}))
    with pytest.raises(ComputeRecordError, match=r"compute.json: field 'tokens' is 2.5; "
                                                 r"expected a whole number"):
        load_record(adapter, {"model": "m", "task": "t", "seed": 0, "stage": "sft"})
    with pytest.raises(ComputeRecordError, match=r"field 'wall_seconds' is None; expected a "
                                                 r"number >= 0$"):
        compute_table([record(wall=None, cpu=1.0, source="x.json")])
    with pytest.raises(ComputeRecordError, match=r"field 'flops' is -1.0; expected a number"):
        compute_table([record(flops=-1.0, source="x.json")])
    with pytest.raises(ComputeRecordError, match=r"nowhere.json: no compute record there"):
        load_record(tmp_path / "nowhere.json", {})
    with pytest.raises(ComputeRecordError, match=r"b.json and a.json: two records"):
        compute_table([record(source="a.json"), record(source="b.json")])
    with pytest.raises(ComputeRecordError, match=r"x.json: stage 'train' is none of"):
        compute_table([record(stage="train", source="x.json")])
    with pytest.raises(ComputeRecordError, match=r"compute record 0: no 'seed'"):
        compute_table([{k: v for k, v in record().items() if k != "seed"}])


def test_gather_compute_script_writes_compute_csv(tmp_path):
    """The rule's script with Snakemake's object stood in for, in a process of its own (it
    sends the process's output to the log)."""
    keys, paths = [], []
    for index, rec in enumerate(hand_made_records()):
        key = {k: rec[k] for k in ("model", "task", "seed", "stage", "method")}
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps({k: v for k, v in rec.items() if k not in key}))
        keys.append(key)
        paths.append(str(path))
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"log": [str(tmp_path / "compute.log")],
                               "params": {"record_keys": keys}, "input": {"records": paths},
                               "output": [str(tmp_path / "out" / "compute.csv")]}))
    code = textwrap.dedent(f"""
        import json, runpy
        from pathlib import Path
        from types import SimpleNamespace
        job = json.loads(Path({str(job)!r}).read_text())
        snakemake = SimpleNamespace(log=job["log"], output=job["output"],
                                    params=SimpleNamespace(**job["params"]),
                                    input=SimpleNamespace(**job["input"]))
        runpy.run_path({str(SCRIPTS / "gather_compute.py")!r},
                       init_globals={{"snakemake": snakemake}})
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    written = (tmp_path / "out" / "compute.csv").read_text()
    expected = compute_csv(compute_table(
        [dict(rec, source=p) for rec, p in zip(hand_made_records(), paths, strict=True)]))
    assert written == expected.to_csv(index=False)
    assert "dpo_over_sft" in (tmp_path / "compute.log").read_text()
