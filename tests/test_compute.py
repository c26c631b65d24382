"""Compute accounting: the job meter on a CPU, the token and LM-head counts of training and
inference, the table, its ratio rows and DPO's costs from hand-made records, and the errors of
bad records."""

import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from sftdpo.compute import (
    COLUMNS,
    COST_COLUMNS,
    JOB_STAGES,
    ComputeRecordError,
    compute_csv,
    compute_table,
    cost_ratios,
    dpo_costs,
    load_record,
    load_records,
)
from sftdpo.flops import (
    block_parameters,
    epochs_run,
    head_parameters,
    inference_flops,
    labelled_positions,
    matched_steps,
    trainable_parameters,
)
from sftdpo.inference import (
    TokenTally,
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


@pytest.fixture
def head_probe(monkeypatch):
    """The positions TRL's fused LM head projects, counted as it runs: ``trained`` where a
    gradient flows back through it, ``forward_only`` elsewhere (validation, reference)."""
    import torch
    import trl.trainer.utils as trl_utils

    original = trl_utils._ChunkedLogProbFunction
    seen = {"trained": 0, "forward_only": 0}

    class Counting:
        @staticmethod
        def apply(hidden, *args):
            trained = torch.is_grad_enabled() and hidden.requires_grad
            seen["trained" if trained else "forward_only"] += hidden.shape[0]
            return original.apply(hidden, *args)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Counting)
    return seen


def labelled(dataset) -> list[int]:
    """Each SFT row's positions the loss scores: its labels after the first, not -100."""
    return [sum(label != -100 for label in row["labels"][1:]) for row in dataset]


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
    _, generation = generate_answers(model, tokenizer, prompts, max_new_tokens=3, batch_size=2)
    # Padding (the short prompts of a batch) is not counted.
    assert generation.prompt == sum(prompt_tokens) and generation.generated > 0
    assert generation.scored == 0
    generated = generation.generated
    answers = [["urgent", "a much longer answer"], ["urgent"], ["non-urgent", "b", "c"]]
    _, scoring = answer_logprobs(model, tokenizer, prompts, answers, batch_size=3)
    scored = sum(len(tokenizer(render_completion(tokenizer, p, a), add_special_tokens=False)
                     ["input_ids"])
                 for p, candidates in zip(prompts, answers, strict=True) for a in candidates)
    # Nor is the padding of the shorter prompts and answers of a scoring batch.
    assert scoring.scored == scored and scoring.generated == 0
    # Scoring runs the start the three prompts share (the system turn) once for the batch.
    shared = shared_prefix_length([tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)
                                   ["input_ids"] for p in prompts])
    assert shared > 10
    assert scoring.prompt == sum(prompt_tokens) - 2 * shared
    # A job adds up what its calls returned.
    before = generation + scoring
    assert before == TokenTally(prompt=2 * sum(prompt_tokens) - 2 * shared,
                                generated=generated, scored=scored)
    assert before.processed == before.prompt + generated + scored
    # Forward FLOPs: 2 x the block parameters per token, the LM head on generated and scored
    # positions (the tiny model: 2 blocks of 9,280 parameters, a 32-wide head).
    assert block_parameters(model) == 2 * 9280
    head = head_parameters(model)
    assert head == len(tokenizer) * 32
    assert inference_flops(model, before) == pytest.approx(
        2 * 18560 * before.processed + 2 * head * (generated + scored))


def test_two_inference_calls_in_one_process_each_count_their_own_tokens(tiny_model_dir):
    """Each call returns the tokens it ran, so a job's record holds its own calls' only: a
    second job in the same process does not carry the first's counts (a process-wide tally
    gave the second record the sum of both)."""
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC, "cpu")
    prompts = [TASK.prompt_messages({"text": text}) for text in ("a", "a longer note " * 6)]
    answers = [["urgent", "non-urgent"], ["urgent", "a longer answer"]]
    records = []
    for _ in range(2):
        _, generation = generate_answers(model, tokenizer, prompts, max_new_tokens=2,
                                         batch_size=2)
        _, scoring = answer_logprobs(model, tokenizer, prompts, answers, batch_size=2)
        tally = generation + scoring
        records.append({"tokens": tally.processed, "flops": inference_flops(model, tally),
                        "prompt_tokens": tally.prompt, "generated_tokens": tally.generated,
                        "scored_tokens": tally.scored})
    assert records[0]["tokens"] > 0 and records[0]["generated_tokens"] > 0
    assert records[1] == records[0]


def test_training_records_its_compute_with_every_non_padding_token_of_every_epoch(
        tiny_model_dir, tmp_path, head_probe):
    items = TASK.build_items(10, 0)
    sft_dir = tmp_path / "sft"
    trainer, sharing = build_sft_trainer(tiny_model_dir, SPEC, TASK, items[:6], items[6:],
                                         SETTINGS, seed=0, device="cpu", out_dir=sft_dir)
    assert sharing is None  # share_prompt off: the trainer's own count
    per_epoch = sum(len(row["input_ids"]) for row in trainer.train_dataset)
    evaluated = sum(len(row["input_ids"]) for row in trainer.eval_dataset)
    answers, validation_answers = sum(labelled(trainer.train_dataset)), \
        sum(labelled(trainer.eval_dataset))
    assert 0 < answers < per_epoch / 10  # the completion-only loss: a few answer tokens a row
    meter = JobMeter("cpu")
    train_and_save(trainer, sft_dir, meter, sharing=sharing)
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
    # The LM head (the tied embedding, vocabulary x 32) on the labelled positions only, as
    # TRL's fused head ran it: 6 N_h at a training position (forward, the backward's
    # recomputed projection, the activation gradient), 2 N_h at a validation position.
    head = len(load_tokenizer(tiny_model_dir)) * 32
    assert sft["head_parameters"] == head
    assert sft["head_positions"] == 2 * answers == head_probe["trained"]
    assert sft["evaluation_head_positions"] == 2 * validation_answers \
        == head_probe["forward_only"]
    assert sft["flops"] == pytest.approx(sft["tokens"] * step + 2 * evaluated * forward
                                         + 2 * answers * 6 * head
                                         + 2 * validation_answers * 2 * head)
    # The matched-compute control's steps: the pairs and DPO jobs' FLOPs at an SFT step's
    # training FLOPs (blocks, adapters and head of the 4 steps, not the validation passes).
    per_step = (sft["tokens"] * step + 2 * answers * 6 * head) / 4
    assert matched_steps(sft, 3 * per_step + 2.6 * per_step) == 6
    assert matched_steps(sft, 0.1 * per_step) == 1
    with pytest.raises(ComputeRecordError, match=r"no 'head_positions'.*rerun the sft job"):
        matched_steps({k: v for k, v in sft.items() if k != "head_positions"}, 1.0)
    # For inference the adapter runs beside the weights (never merged): the active adapter
    # once per token; the base model has none.
    tally = TokenTally(prompt=10, generated=2, scored=3)
    base = load_with_adapter(tiny_model_dir, SPEC, None, "cpu")
    assert head_parameters(base) == head
    assert inference_flops(base, tally) == pytest.approx(15 * 2 * blocks + 2 * head * 5)
    adapted = load_with_adapter(tiny_model_dir, SPEC, sft_dir, "cpu")
    assert inference_flops(adapted, tally) == pytest.approx(15 * forward + 2 * head * 5)
    assert trainable_parameters(load_with_adapter(tiny_model_dir, SPEC, sft_dir, "cpu",
                                                  trainable=True)) == adapters

    pairs = [{"prompt": TASK.prompt_messages(i), "chosen": TASK.gold(i),
              "rejected": next(x for x in TASK.labels if x != TASK.gold(i))} for i in items[:5]]
    dpo_dir = tmp_path / "dpo"
    head_probe.update(trained=0, forward_only=0)
    trainer, sharing = build_dpo_trainer(tiny_model_dir, SPEC, sft_dir, pairs, SETTINGS,
                                         seed=0, device="cpu", out_dir=dpo_dir)
    # The model runs prompt + chosen and prompt + rejected of every pair.
    per_epoch = sum(2 * len(row["prompt_ids"]) + len(row["chosen_ids"]) + len(row["rejected_ids"])
                    for row in trainer.train_dataset)
    # The loss scores both answers of every pair.
    answers = sum(len(row["chosen_ids"]) + len(row["rejected_ids"])
                  for row in trainer.train_dataset)
    train_and_save(trainer, dpo_dir, sharing=sharing)
    record = load_record(dpo_dir, {"model": "m", "task": "t", "seed": 0, "stage": "dpo"})
    assert record["tokens"] == 2 * per_epoch
    assert record["source"] == str(dpo_dir / "compute.json")
    # The reference (the frozen SFT copy) runs forward over the same sequences at every step,
    # its head over the same labelled positions.
    dpo = json.loads((dpo_dir / "compute.json").read_text())
    assert dpo["trainable_parameters"] == adapters and dpo["reference_tokens"] == dpo["tokens"]
    assert dpo["head_positions"] == dpo["reference_head_positions"] == 2 * answers \
        == head_probe["trained"] == head_probe["forward_only"]
    assert dpo["flops"] == pytest.approx(dpo["tokens"] * (step + forward)
                                         + 2 * answers * (6 + 2) * head)
    # Precomputed, it runs once over the pairs: one epoch's tokens and positions, not two.
    head_probe.update(trained=0, forward_only=0)
    settings = {**SETTINGS, "dpo": {**SETTINGS["dpo"], "precompute_reference": True}}
    trainer, sharing = build_dpo_trainer(tiny_model_dir, SPEC, sft_dir, pairs, settings,
                                         seed=0, device="cpu", out_dir=tmp_path / "dpo_pre")
    train_and_save(trainer, tmp_path / "dpo_pre", sharing=sharing)
    pre = json.loads((tmp_path / "dpo_pre" / "compute.json").read_text())
    assert pre["tokens"] == 2 * per_epoch and pre["reference_tokens"] == per_epoch
    assert pre["reference_head_positions"] == answers == head_probe["forward_only"]
    assert pre["flops"] == pytest.approx(pre["tokens"] * step + per_epoch * forward
                                         + 2 * answers * 6 * head + answers * 2 * head)


def test_a_run_cut_short_by_max_steps_counts_the_rows_its_last_epoch_ran(
        tiny_model_dir, tmp_path, head_probe):
    """The matched-compute control stops at a step count: 6 rows in batches of 4 are 2 steps
    an epoch, so 3 steps are an epoch and one batch of 4 rows of the next."""
    items = TASK.build_items(10, 0)
    sft = {**SETTINGS["sft"], "validation_loss": "end"}
    trainer, sharing = build_sft_trainer(tiny_model_dir, SPEC, TASK, items[:6], items[6:],
                                         {**SETTINGS, "sft": sft}, seed=0, device="cpu",
                                         out_dir=tmp_path / "sft")
    trainer.args.max_steps = 3
    rows = labelled(trainer.train_dataset)
    train_and_save(trainer, tmp_path / "sft", sharing=sharing)
    record = json.loads((tmp_path / "sft" / "compute.json").read_text())
    assert record["global_steps"] == 3 and epochs_run(trainer) == pytest.approx(1 + 4 / 6)
    # The second epoch's 4 rows at the rows' mean: within what any 4 of them hold.
    assert record["head_positions"] == round(sum(rows) * (1 + 4 / 6))
    lowest, highest = sum(rows) + 4 * min(rows), sum(rows) + 4 * max(rows)
    assert lowest <= head_probe["trained"] <= highest
    assert lowest <= record["head_positions"] <= highest


def test_epochs_run_and_labelled_positions_by_hand():
    from types import SimpleNamespace

    from datasets import Dataset

    def trainer(epoch, rows=6, batch=4):
        return SimpleNamespace(state=SimpleNamespace(epoch=epoch),
                               args=SimpleNamespace(train_batch_size=batch, world_size=1),
                               train_dataset=list(range(rows)))

    assert epochs_run(trainer(2.0)) == 2.0
    # Half of an epoch's 2 batches: the first, 4 of the 6 rows; both: the 6.
    assert epochs_run(trainer(1.5)) == pytest.approx(1 + 4 / 6)
    assert epochs_run(trainer(0.5, rows=8)) == pytest.approx(0.5)
    # DPO: both answers of every pair, as truncated to max_length (the prompt kept whole:
    # keep_start), the first position of a row never scored.
    pairs = Dataset.from_dict({"prompt_ids": [[1] * 5, [1] * 9], "chosen_ids": [[2] * 3, [2]],
                               "rejected_ids": [[3] * 2, [3] * 4]})
    assert labelled_positions(pairs) == 3 + 2 + 1 + 4
    assert labelled_positions(pairs, max_length=10) == 3 + 2 + 1 + 1
    # keep_end: the answer's end kept, its first kept token then the row's first, unscored.
    assert labelled_positions(pairs, max_length=3, truncation_mode="keep_end") == 2 + 2 + 1 + 2
    # SFT: labels not -100 after the first; a completion mask where no labels were built.
    sft = Dataset.from_dict({"input_ids": [[5] * 4, [5] * 3],
                             "labels": [[-100, -100, 7, 7], [7, -100, 7]]})
    assert labelled_positions(sft) == 2 + 1
    masks = Dataset.from_dict({"input_ids": [[5] * 4], "completion_mask": [[1, 0, 1, 1]]})
    assert labelled_positions(masks) == 2


def hand_made_records():
    return [
        # Seeds 0 and 1 on a GPU. DPO's extra, pairs + dpo, over SFT: seed 0 FLOPs (5 + 2) / 1
        # = 7 (FLOPs follow tokens here), wall (30 + 250) / 100 = 2.8, accelerator (20 + 200)
        # / 80 = 2.75; seed 1 FLOPs (1 + 3) / 1 = 4, wall (50 + 400) / 200 = 2.25,
        # accelerator (40 + 480) / 160 = 3.25. Means 5.5, 2.525, 3.0.
        record(seed=1, stage="dpo", device="H100", wall=400.0, accelerator=480.0, tokens=3000,
               memory=500.0),
        record(seed=0, stage="sft", device="H100", wall=100.0, accelerator=80.0, tokens=1000),
        record(seed=0, stage="dpo", device="H100", wall=250.0, accelerator=200.0, tokens=2000,
               memory=750.0),
        record(seed=1, stage="sft", device="H100", wall=200.0, accelerator=160.0, tokens=1000),
        record(seed=0, stage="pairs", device="H100", wall=30.0, accelerator=20.0, tokens=5000),
        record(seed=1, stage="pairs", device="H100", wall=50.0, accelerator=40.0, tokens=1000),
        record(seed=0, stage="generate", method="dpo", device="H100", wall=5.0, accelerator=4.0),
        record(seed=0, stage="generate", method="sft", device="H100", wall=5.0, accelerator=4.0),
        record(seed=0, stage="generate", method="base", device="H100", wall=6.0,
               accelerator=5.0),
        # A CPU task: no accelerator seconds, so no accelerator ratio; extra wall (10 + 60) /
        # 20 = 3.5, tokens (200 + 200) / 400 = 1.
        record(task="c", stage="sft", wall=20.0, tokens=400),
        record(task="c", stage="pairs", wall=10.0, tokens=200),
        record(task="c", stage="dpo", wall=60.0, tokens=200),
        # SFT only (no pairs, no DPO): no ratio.
        record(task="s", stage="sft"),
    ]


def control_records():
    """The matched-compute control in task t, seed 0 only: FLOPs 7 (as pairs + dpo), wall
    140 of their 280; its generation between SFT's and DPO's."""
    return [record(seed=0, stage="generate", method="sft_matched", device="H100", wall=5.0,
                   accelerator=4.0),
            record(seed=0, stage="sft_matched", device="H100", wall=140.0, accelerator=110.0,
                   tokens=7000)]


def test_the_table_has_one_row_per_job_in_pipeline_order():
    table = compute_table(hand_made_records() + control_records())
    assert list(table.columns) == list(COLUMNS)
    first = table[(table["task"] == "t")]
    assert list(zip(first["seed"], first["stage"], first["method"].fillna("-"),
                    strict=True)) == [
        (0, "sft", "-"), (0, "pairs", "-"), (0, "dpo", "-"), (0, "sft_matched", "-"),
        (0, "generate", "base"), (0, "generate", "sft"), (0, "generate", "sft_matched"),
        (0, "generate", "dpo"), (1, "sft", "-"), (1, "pairs", "-"), (1, "dpo", "-")]
    assert math.isnan(table.loc[table["task"] == "c", "accelerator_seconds"].iloc[0])


def test_dpo_s_extra_cost_counts_the_pairs_job_with_the_dpo_job():
    ratios = cost_ratios(compute_table(hand_made_records())).set_index(["task", "stage"])
    assert list(ratios.index) == [("c", "extra_over_sft"), ("c", "pipeline_over_sft"),
                                  ("t", "extra_over_sft"), ("t", "pipeline_over_sft")]
    gpu = ratios.loc[("t", "extra_over_sft")]
    assert gpu["device"] == "H100" and math.isnan(gpu["peak_memory_mib"])
    assert gpu[["flops", "wall_seconds", "accelerator_seconds", "tokens"]].tolist() \
        == pytest.approx([5.5, 2.525, 3.0, 5.5])
    # CPU seconds are twice the wall seconds in every record: the same ratio.
    assert gpu["cpu_seconds"] == pytest.approx(2.525)
    # SFT then DPO over SFT alone: one more.
    pipeline = ratios.loc[("t", "pipeline_over_sft")]
    assert pipeline[["flops", "wall_seconds", "accelerator_seconds"]].tolist() \
        == pytest.approx([6.5, 3.525, 4.0])
    cpu = ratios.loc[("c", "extra_over_sft")]
    assert cpu["wall_seconds"] == pytest.approx(3.5) and cpu["tokens"] == pytest.approx(1.0)
    assert math.isnan(cpu["accelerator_seconds"]) and cpu["device"] == "cpu"
    assert ratios.loc[("c", "pipeline_over_sft"), "flops"] == pytest.approx(2.0)


def test_dpo_costs_per_model_and_task():
    costs = dpo_costs(compute_table(hand_made_records()))
    assert list(costs.columns) == list(COST_COLUMNS)
    costs = costs.set_index("task")
    assert list(costs.index) == ["c", "t"]  # s ran no DPO
    gpu = costs.loc["t"]
    assert (gpu["n_seeds"], gpu["device"]) == (2, "H100")
    assert gpu[["sft_flops", "extra_flops"]].tolist() == pytest.approx([1e9, 5.5e9])
    assert gpu[["extra_flops_ratio", "extra_cpu_ratio", "extra_wall_ratio",
                "extra_accelerator_ratio", "pipeline_flops_ratio"]].tolist() \
        == pytest.approx([5.5, 2.525, 2.525, 3.0, 6.5])
    # No control, nothing tuned.
    assert math.isnan(gpu["matched_flops_ratio"])
    assert (gpu["tuning_flops"], gpu["tuning_flops_ratio"]) == (0.0, 0.0)
    assert math.isnan(costs.loc["c", "extra_accelerator_ratio"])
    assert costs.loc["c", "extra_wall_ratio"] == pytest.approx(3.5)


def test_the_matched_control_gets_a_ratio_row_only_where_it_ran():
    table = compute_table(hand_made_records() + control_records())
    ratios = cost_ratios(table).set_index(["task", "stage"])
    assert ("t", "matched_over_extra") in ratios.index
    assert ("c", "matched_over_extra") not in ratios.index
    # Seed 0 only, the seed that ran it: FLOPs 7 / (5 + 2), wall 140 / 280.
    matched = ratios.loc[("t", "matched_over_extra")]
    assert matched[["flops", "wall_seconds", "accelerator_seconds"]].tolist() \
        == pytest.approx([1.0, 0.5, 0.5])
    # The control changes neither DPO's extra nor the pipeline ratio.
    assert ratios.loc[("t", "extra_over_sft"), "flops"] == pytest.approx(5.5)
    costs = dpo_costs(table).set_index("task")
    assert costs.loc["t", "matched_flops_ratio"] == pytest.approx(1.0)
    assert math.isnan(costs.loc["c", "matched_flops_ratio"])
    assert "matched_over_extra" not in set(cost_ratios(compute_table(hand_made_records()))
                                           ["stage"])


def write_records(tmp_path, records):
    """Each record's measures as a JSON file; its key (with any ``part``) and path."""
    keys, paths = [], []
    for index, rec in enumerate(records):
        key = {k: rec[k] for k in ("model", "task", "seed", "stage", "method", "part")
               if k in rec}
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps({k: v for k, v in rec.items() if k not in key}))
        keys.append(key)
        paths.append(str(path))
    return keys, paths


def tuning_records():
    """Task t, seed 0 tuned both stages: two SFT candidates (training 1.5 and 0.5 GFLOP, a
    validation generation 0.1 each) and one DPO candidate (2 + 0.1): 4.3 GFLOP in all."""
    return [record(seed=0, stage="tuning", method=method, part=part, device="H100",
                   accelerator=1.0, wall=wall, tokens=tokens)
            for method, part, wall, tokens in (
                ("sft:lr0.001", "training", 15.0, 1500), ("sft:lr0.001", "validation", 2.0, 100),
                ("sft:lr0.0003", "training", 5.0, 500), ("sft:lr0.0003", "validation", 2.0, 100),
                ("dpo:beta0.1", "training", 20.0, 2000), ("dpo:beta0.1", "validation", 2.0, 100))]


def test_tuning_candidates_are_one_row_each_and_dpo_costs_sums_them(tmp_path):
    keys, paths = write_records(tmp_path, hand_made_records() + tuning_records())
    table = compute_table(load_records(paths, keys))
    tuning = table[table["stage"] == "tuning"]
    # After the seed's jobs, SFT's candidates before DPO's, each its two records summed.
    assert list(tuning.index) == [10, 11, 12]
    assert tuning["method"].tolist() == ["sft:lr0.001", "sft:lr0.0003", "dpo:beta0.1"]
    assert tuning["flops"].tolist() == pytest.approx([1.6e9, 0.6e9, 2.1e9])
    assert tuning["wall_seconds"].tolist() == pytest.approx([17.0, 7.0, 22.0])
    assert tuning["accelerator_seconds"].tolist() == pytest.approx([2.0, 2.0, 2.0])
    assert tuning["tokens"].tolist() == [1600, 600, 2100]
    assert (tuning["device"] == "H100").all()
    costs = dpo_costs(table).set_index("task")
    # Seed 0's 4.3 GFLOP, seed 1's none: a mean of 2.15, over SFT's 1 GFLOP 2.15.
    assert costs.loc["t", "tuning_flops"] == pytest.approx(2.15e9)
    assert costs.loc["t", "tuning_flops_ratio"] == pytest.approx(2.15)
    assert costs.loc["c", "tuning_flops"] == 0.0
    # Tuning is in no ratio row.
    assert costs.loc["t", "extra_flops_ratio"] == pytest.approx(5.5)
    # A part given twice is an error naming both files.
    with pytest.raises(ComputeRecordError, match=r"0\.json and \S*1\.json: part 'training' twice"):
        load_records(paths[:2], [keys[-1] | {"part": "training"}] * 2)


def test_compute_csv_puts_each_models_ratio_rows_after_its_jobs(tmp_path):
    rows = compute_csv(compute_table(hand_made_records() + control_records()))
    path = tmp_path / "compute.csv"
    rows.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert [line.split(",")[:5] for line in lines[1:]] == [
        ["m", "c", "0", "sft", ""], ["m", "c", "0", "pairs", ""], ["m", "c", "0", "dpo", ""],
        ["m", "c", "", "extra_over_sft", ""], ["m", "c", "", "pipeline_over_sft", ""],
        ["m", "s", "0", "sft", ""],
        ["m", "t", "0", "sft", ""], ["m", "t", "0", "pairs", ""], ["m", "t", "0", "dpo", ""],
        ["m", "t", "0", "sft_matched", ""], ["m", "t", "0", "generate", "base"],
        ["m", "t", "0", "generate", "sft"], ["m", "t", "0", "generate", "sft_matched"],
        ["m", "t", "0", "generate", "dpo"],
        ["m", "t", "1", "sft", ""], ["m", "t", "1", "pairs", ""], ["m", "t", "1", "dpo", ""],
        ["m", "t", "", "extra_over_sft", ""], ["m", "t", "", "pipeline_over_sft", ""],
        ["m", "t", "", "matched_over_extra", ""]]
    # FLOPs and CPU seconds (first) follow tokens and wall time in these records; no peak
    # memory in a ratio row.
    assert lines[4] == "m,c,,extra_over_sft,,cpu,1.0,3.5,3.5,,1.0,"
    assert lines[7] == "m,t,0,sft,,H100,1000000000.0,200.0,100.0,80.0,1000,500.0"
    back = pd.read_csv(path)
    assert back.loc[17, "accelerator_seconds"] == pytest.approx(3.0)
    assert back.loc[18, "flops"] == pytest.approx(6.5)


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
    # A ratio row is computed, never read from a record.
    with pytest.raises(ComputeRecordError, match=r"stage 'extra_over_sft' is none of"):
        compute_table([record(stage="extra_over_sft", source="x.json")])
    with pytest.raises(ComputeRecordError, match=r"compute record 0: no 'seed'"):
        compute_table([{k: v for k, v in record().items() if k != "seed"}])


def test_gather_compute_script_writes_compute_csv(tmp_path):
    """The rule's script with Snakemake's object stood in for, in a process of its own (it
    sends the process's output to the log); a tuning candidate's two records make one row."""
    records = hand_made_records() + control_records() + tuning_records()
    keys, paths = write_records(tmp_path, records)
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
    expected = compute_csv(compute_table(load_records(paths, keys)))
    assert written == expected.to_csv(index=False)
    back = pd.read_csv(tmp_path / "out" / "compute.csv")
    assert (back["stage"] == "tuning").sum() == 3
    assert set(back["stage"]) >= {"extra_over_sft", "pipeline_over_sft", "matched_over_extra"}
    # What the summary reads back: the same costs as from the table.
    pd.testing.assert_frame_equal(dpo_costs(back[back["stage"].isin(JOB_STAGES)]),
                                  dpo_costs(compute_table(load_records(paths, keys))),
                                  check_dtype=False)
    assert "extra_over_sft" in (tmp_path / "compute.log").read_text()
