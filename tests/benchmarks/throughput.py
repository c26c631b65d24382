"""Training and evaluation throughput of the workflow's model jobs, with before/after figures.

    python tests/benchmarks/throughput.py [--model-dir DIR] [--threads N] [--steps N]

Prints, in one run, on the embedded model as the workflow materialises it
(resources/models/smollm2-135m; run `snakemake --cores 2 resources/models/smollm2-135m` first):

1. the machine's bf16 matmul peak (a 2048^3 product at the benchmark's thread count);
2. SFT and DPO training tokens/s and their share of that peak, for plain TRL defaults, the
   workflow's settings before this benchmark existed (``BEFORE``) and its settings now
   (``NOW``), all on the same provider-triage items with the same LoRA adapter, DPO on the
   hardest-wrong-label pairs the pairs job would make from that SFT model; the FLOPs a
   run did by :func:`sftdpo.flops.training_flops` (the formula of its compute record: the
   validation pass of SFT and the reference forward of DPO included; a packed DPO pair counts
   its prompt once, as it runs); tokens as the trainer counts them (a DPO pair's prompt twice),
   so tokens/s of the DPO rows compare like with like;
3. DPO seconds per epoch over SFT seconds per epoch on the same items (DPO's reference pass
   included, whether it runs at every step or once before training; none runs where the
   reference is read from the pairs, which the pairs job scored anyway);
4. model-job start-up: seconds from the interpreter's start to the first training step and
   to the first answer (generated, and by likelihood), in a fresh process as a job runs;
5. evaluation items/s and parse failures by evaluation mode (generate, likelihood), and
   likelihood with the model set up as before (sdpa attention, the output head fed a strided
   view, subnormal floats computed) against now; both score a prompt's answers packed in one
   row after it (the per-answer copies of the prompt's cache that ran before are gone from
   the code: 64 reasoning items took 25.8 s with them, 17.3 s packed, commit e84261b);
   and the ceiling on likelihood's items/s: its own forward FLOPs (the formula of its
   compute record, sftdpo.flops.inference_flops) at the bf16 matmul peak of item 1;
6. one SFT epoch in a fresh process with the memory it frees handed back to the kernel
   (glibc's default) against kept (what start_job sets), on the summaries and on provider
   triage: seconds, tokens/s, kernel seconds, page faults, peak memory;
7. one SFT job with 2 threads against two 1-thread SFT jobs side by side (tokens/s in all).

A benchmark, not a test: it asserts nothing and takes about ten minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

LORA = {"r": 16, "alpha": 32, "dropout": 0.0, "top_layers": 8,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                           "down_proj"]}
STAGE = {"epochs": 1, "batch_size": 8, "gradient_accumulation_steps": 1, "max_length": 640,
         "lr_scheduler": "constant", "warmup_steps": 2, "gradient_checkpointing": False,
         "mixed_precision": "bf16", "group_by_length": True, "share_prompt": True,
         "validation_loss": "end"}
DPO = {"beta": 0.1, "loss_type": ["sigmoid"], "loss_weights": None,
       "precompute_reference": True, "precompute_batch_size": 32, "reference_from_pairs": True}
# The workflow's settings now, and as they were before (commit d2113e1: LoRA dropout 0.05,
# random batches, the reference run at every DPO step).
NOW = {"lora": LORA, "sft": {**STAGE, "learning_rate": 5e-4},
       "dpo": {**STAGE, **DPO, "learning_rate": 5e-5}}
BEFORE = {"lora": {**LORA, "dropout": 0.05},
          "sft": {**NOW["sft"], "group_by_length": False, "share_prompt": False,
                  "validation_loss": "each_epoch"},
          "dpo": {**NOW["dpo"], "group_by_length": False, "precompute_reference": False,
                  "share_prompt": False}}
# The settings now, but every prompt run twice (DPO as TRL runs it): what sharing the prompt saves.
PROMPT_TWICE = {**NOW, "dpo": {**NOW["dpo"], "share_prompt": False}}
# The settings now, but the reference computed by TRL's pass instead of read from the pairs.
REFERENCE_PASS = {**NOW, "dpo": {**NOW["dpo"], "reference_from_pairs": False}}
# The model as TRL's defaults and the workflow before load it (transformers' attention choice,
# sdpa), and as the default config's entry loads it now (eager attention).
SPEC = {"dtype": "bfloat16", "quantization": "none"}
SPEC_NOW = {**SPEC, "attention": "eager"}


class LoopTimer(TrainerCallback):
    """Wall time of the training loop and of its first step (warm-up)."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()
        self.first_step = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.first_step is None:
            self.first_step = time.perf_counter() - self.started

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = time.perf_counter() - self.started


def bf16_peak(threads: int) -> float:
    torch.set_num_threads(threads)
    a, b = (torch.randn(2048, 2048, dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    started, reps = time.perf_counter(), 10
    for _ in range(reps):
        a @ b
    return 2 * 2048**3 * reps / (time.perf_counter() - started)


def run(trainer) -> tuple[float, int, float]:
    """(seconds of the whole epoch, tokens the trainer counted, seconds of steps after the
    first): the epoch includes DPO's precompute pass when it runs, done in the constructor."""
    timer = LoopTimer()
    trainer.add_callback(timer)
    trainer.train()
    return timer.seconds, trainer.state.num_input_tokens_seen, timer.seconds - timer.first_step


def trl_default_sft(model_dir, task, items, out_dir):
    """SFTTrainer with SFTConfig's defaults (batch size, epochs and CPU set as the workflow's)
    and the workflow's LoRA adapter."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from sftdpo.modeling import load_base_model, load_tokenizer
    from sftdpo.trainer_config import lora_config
    from sftdpo.training import sft_records

    model = load_base_model(model_dir, SPEC, "cpu", for_training=True)
    args = SFTConfig(output_dir=str(out_dir), per_device_train_batch_size=8, num_train_epochs=1,
                     use_cpu=True, bf16=True, report_to=[], save_strategy="no",
                     disable_tqdm=True, include_num_input_tokens_seen="non_padding")
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(
        sft_records(task, items)), processing_class=load_tokenizer(model_dir),
        peft_config=lora_config(LORA, model.config.num_hidden_layers))


def trl_default_dpo(model_dir, sft_dir, pairs, out_dir):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from sftdpo.modeling import load_tokenizer, load_with_adapter
    from sftdpo.training import dpo_records

    model = load_with_adapter(model_dir, SPEC, sft_dir, "cpu", trainable=True)
    args = DPOConfig(output_dir=str(out_dir), per_device_train_batch_size=8, num_train_epochs=1,
                     use_cpu=True, bf16=True, report_to=[], save_strategy="no",
                     disable_tqdm=True, include_num_input_tokens_seen="non_padding")
    return DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(dpo_records(pairs)),
                      processing_class=load_tokenizer(model_dir))


def training(model_dir: Path, n_items: int, peak: float) -> None:
    from sftdpo.flops import training_flops
    from sftdpo.modeling import load_tokenizer, load_with_adapter
    from sftdpo.pairs import PairContext, hardest_wrong_label_pairs
    from sftdpo.tasks import BUILTIN_TASKS
    from sftdpo.training import (
        build_dpo_trainer,
        build_sft_trainer,
        save_adapter,
        score_labelled_positions_only,
    )

    task = BUILTIN_TASKS["provider_triage"]
    items = task.build_items(n_items + 8, 0)
    train, validation = items[:n_items], items[n_items:]
    # The workflow's LM-head switch holds inside score_labelled_positions_only() only (its
    # train_and_save and DPO's constructor); TRL's defaults run without it.
    def head(label):
        return contextlib.nullcontext() if label.endswith("TRL defaults") else \
            score_labelled_positions_only()

    print(f"\n== training: {n_items} provider-triage items, batch 8, 1 epoch, LoRA r16 on the "
          f"top 8 blocks; tokens = non-padding input tokens")
    print(f"{'setting':34s} {'epoch s':>8s} {'tokens':>7s} {'tok/s':>7s} {'TFLOP':>7s} "
          f"{'of peak':>7s}")
    epochs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sft_dir = tmp / "sft"
        # Each row builds a trainer and the prefix sharing installed on its model (None: none).
        rows = [("SFT  TRL defaults",
                 lambda: (trl_default_sft(model_dir, task, train, tmp / "a"), None))]
        for name, settings, spec in (("before", BEFORE, SPEC), ("now, sdpa", NOW, SPEC),
                                     ("now", NOW, SPEC_NOW)):
            rows.append((f"SFT  workflow {name}", lambda s=settings, m=spec: build_sft_trainer(
                model_dir, m, task, train, validation, s, 0, "cpu", sft_dir)))
        for label, build in rows:
            trainer, sharing = build()
            with head(label):
                seconds, tokens, _ = run(trainer)
            report(label, seconds, tokens, training_flops(trainer, sharing)["flops"], peak)
            epochs[label] = seconds
            if label == "SFT  workflow now":
                save_adapter(trainer, sft_dir, {})
        # The pairs as the pairs job makes them from that SFT model (hardest wrong label, with
        # both answers' log-probabilities recorded); not part of any DPO row's time.
        pairs = hardest_wrong_label_pairs(PairContext(
            model=load_with_adapter(model_dir, SPEC_NOW, sft_dir, "cpu"),
            tokenizer=load_tokenizer(model_dir), task=task, items=train, seed=0,
            max_new_tokens=8, batch_size=16))
        dpo_rows = [("DPO  TRL defaults", lambda: (trl_default_dpo(model_dir, sft_dir, pairs,
                                                                    tmp / "b"), None))]
        for name, settings, spec in (("before", BEFORE, SPEC),
                                     ("now, prompt twice", PROMPT_TWICE, SPEC_NOW),
                                     ("now, reference pass", REFERENCE_PASS, SPEC_NOW),
                                     ("now", NOW, SPEC_NOW)):
            dpo_rows.append((f"DPO  workflow {name}", lambda s=settings, m=spec: build_dpo_trainer(
                model_dir, m, sft_dir, pairs, s, 0, "cpu", tmp / "dpo")))
        for label, build in dpo_rows:
            started = time.perf_counter()
            trainer, sharing = build()
            # The precompute pass runs in the constructor: part of DPO's epoch.
            precompute = (time.perf_counter() - started) if trainer.precompute_ref_logps else 0.0
            with head(label):
                seconds, tokens, _ = run(trainer)
            report(label, seconds + precompute, tokens, training_flops(trainer, sharing)["flops"],
                   peak)
            epochs[label] = seconds + precompute
            if label.endswith("reference pass"):
                trl_reference = trainer.train_dataset
    # What reading the reference from the pairs changes: the pairs job's values (the SFT
    # adapter beside the weights, batches of 16 sharing a cache) against TRL's pass (the
    # "ref" adapter, packed pairs).
    gap = [abs((p["chosen_logprob"] - p["rejected_logprob"]) - (c - r)) for p, c, r in zip(
        pairs, trl_reference["ref_chosen_logps"], trl_reference["ref_rejected_logps"],
        strict=True)]
    print(f"reference margin (chosen - rejected log-prob), pairs job against TRL's pass: mean "
          f"|difference| {sum(gap) / len(gap):.4f}, max {max(gap):.4f} nats")
    for dpo, sft in (("TRL defaults", "TRL defaults"), ("workflow before", "workflow before"),
                     ("workflow now, prompt twice", "workflow now"),
                     ("workflow now, reference pass", "workflow now"),
                     ("workflow now", "workflow now")):
        ratio = epochs["DPO  " + dpo] / epochs["SFT  " + sft]
        print(f"DPO/SFT seconds per epoch, {dpo}: {ratio:.2f}x")


def report(label, seconds, tokens, flops, peak):
    print(f"{label:34s} {seconds:8.1f} {tokens:7d} {tokens / seconds:7.0f} {flops / 1e12:7.2f} "
          f"{flops / seconds / peak:7.1%}", flush=True)


# A job's start in a fresh interpreter: what the sft and generate scripts do, timed from the
# interpreter's start (time.time() at the top of the code, against the parent's clock). The
# "job" variant starts as the scripts do (sftdpo.runtime.start_job: bitsandbytes kept out, the
# garbage collector off until the compute section); "no-bnb" only keeps bitsandbytes out (as
# the jobs of 2d83c14 to b760b0f started, less their imports of pandas, scipy and, for the base
# model, PEFT); "bnb" neither (before). READY goes to a copy of stdout taken before start_job
# sends the output to the job's log.
STARTUP = textwrap.dedent("""
    import os, sys, time
    from types import SimpleNamespace
    from sftdpo.runtime import JobMeter, prepare_torch, skip_bitsandbytes, start_job
    stamps = os.fdopen(os.dup(1), "w")
    spec = {{"dtype": "bfloat16", "quantization": "none", "attention": "eager"}}
    if "{variant}" == "job":
        meter = start_job(SimpleNamespace(log=["{out}.log"], resources={{}}, threads={threads},
                                          params=SimpleNamespace(seed=0)), spec)
    else:
        if "{variant}" == "no-bnb":
            skip_bitsandbytes()
        prepare_torch({threads}, 0)
        meter = JobMeter("cpu")
    from sftdpo.tasks import BUILTIN_TASKS
    task = BUILTIN_TASKS["provider_triage"]
    items = task.build_items(16, 0)
    if "{what}" == "train":
        from transformers import TrainerCallback
        from sftdpo.training import build_sft_trainer, train_and_save
        settings = {settings}
        class First(TrainerCallback):
            def on_step_begin(self, *args, **kwargs):
                print("READY", time.time(), file=stamps, flush=True)
                os._exit(0)
        trainer, sharing = build_sft_trainer("{model_dir}", spec, task, items, items[:8],
                                             settings, 0, "cpu",
                                             __import__("pathlib").Path("{out}"))
        trainer.add_callback(First())
        train_and_save(trainer, "{out}", meter, sharing=sharing)
    else:
        from sftdpo.modeling import load_tokenizer, load_with_adapter
        tokenizer = load_tokenizer("{model_dir}")
        model = load_with_adapter("{model_dir}", spec, None, "cpu")
        with meter.measure():
            if "{what}" == "generate":
                from sftdpo.inference import generate_answers
                generate_answers(model, tokenizer, [task.prompt_messages(items[0])], 8, 1)
            else:
                from sftdpo.scoring import candidate_logprobs
                candidate_logprobs(model, tokenizer, task, items[:1], 1)
        print("READY", time.time(), file=stamps, flush=True)
""")
STARTUP_VARIANTS = {"bnb": "bitsandbytes imported (before)",
                    "no-bnb": "without bitsandbytes",
                    "job": "+ collector off (now)"}


# The floor under every model job: the imports of torch and of transformers' Llama (without
# bitsandbytes), before any model, data or TRL.
IMPORT_FLOOR = ("import sys, time; sys.modules['bitsandbytes'] = None; import torch; "
                "print('TORCH', time.time()); from transformers.models.llama import "
                "modeling_llama; print('LLAMA', time.time())")


def _timestamps(code: str) -> tuple[float, dict[str, float]]:
    started = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return started, {line.split()[0]: float(line.split()[1]) for line in out.splitlines()
                     if line.split() and line.split()[0] in ("TORCH", "LLAMA", "READY")}


def startup(model_dir: Path, threads: int) -> None:
    print("\n== model-job start-up: interpreter start to first step / first answer (s), "
          "best of 3")
    floor = [_timestamps(IMPORT_FLOOR) for _ in range(3)]
    print(f"{'imports':10s} {'import torch':32s} "
          f"{min(t['TORCH'] - s for s, t in floor):5.1f}")
    print(f"{'imports':10s} {'+ transformers Llama':32s} "
          f"{min(t['LLAMA'] - s for s, t in floor):5.1f}", flush=True)
    for what in ("train", "generate", "likelihood"):
        for variant, name in STARTUP_VARIANTS.items():
            best = float("inf")
            for _ in range(3):
                with tempfile.TemporaryDirectory() as tmp:
                    started, stamps = _timestamps(STARTUP.format(
                        variant=variant, threads=threads, what=what, settings=NOW,
                        model_dir=model_dir, out=Path(tmp) / "sft"))
                best = min(best, stamps["READY"] - started)
            print(f"{what:10s} {name:32s} {best:5.1f}", flush=True)


def evaluation(model_dir: Path, n_items: int, batch_size: int, peak: float) -> None:
    from sftdpo.flops import inference_flops
    from sftdpo.inference import batches, generate_answers, render_prompt
    from sftdpo.modeling import load_base_model, load_tokenizer, load_with_adapter
    from sftdpo.scoring import candidate_logprobs
    from sftdpo.tasks import BUILTIN_TASKS, answer_tokens

    print(f"\n== evaluation: {n_items} items per task, the base model, {batch_size} prompts "
          "per batch in both modes")
    tokenizer = load_tokenizer(model_dir)
    # Before: sdpa, the head fed a strided view, subnormal floats computed (torch's defaults).
    torch.set_flush_denormal(False)
    before = load_base_model(model_dir, SPEC, "cpu")
    items_of = {name: BUILTIN_TASKS[name].build_items(n_items, 1)
                for name in ("provider_triage", "clinical_reasoning")}
    before_seconds = {}
    for name, items in items_of.items():
        started = time.perf_counter()
        candidate_logprobs(before, tokenizer, BUILTIN_TASKS[name], items, batch_size)
        before_seconds[name] = time.perf_counter() - started
    # Now: as a job loads the model (sftdpo.modeling, sftdpo.runtime.prepare_torch).
    torch.set_flush_denormal(True)
    model = load_with_adapter(model_dir, SPEC_NOW, None, "cpu")
    for name, items in items_of.items():
        task = BUILTIN_TASKS[name]
        started = time.perf_counter()
        answers, _ = generate_answers(model, tokenizer, [task.prompt_messages(i) for i in items],
                                      answer_tokens(task, {}), batch_size)
        generate_seconds = time.perf_counter() - started
        failures = sum(task.parse(a, i) is None for a, i in zip(answers, items, strict=True))
        started = time.perf_counter()
        _, scoring = candidate_logprobs(model, tokenizer, task, items, batch_size)
        likelihood_seconds = time.perf_counter() - started
        # The ceiling: likelihood's own matmul FLOPs (real tokens only, the shared system turn
        # once a batch) at the machine's bf16 matmul peak.
        ceiling_seconds = inference_flops(model, scoring) / peak
        print(f"{name:20s} generate   {n_items / generate_seconds:6.2f} items/s, "
              f"{failures}/{n_items} unparseable")
        print(f"{name:20s} likelihood before {n_items / before_seconds[name]:6.2f} items/s "
              "(sdpa, strided head input, subnormals)")
        print(f"{name:20s} likelihood {n_items / likelihood_seconds:6.2f} items/s, "
              f"0/{n_items} unparseable ({generate_seconds / likelihood_seconds:.1f}x generate, "
              f"{before_seconds[name] / likelihood_seconds:.1f}x before)", flush=True)
        print(f"{name:20s} likelihood at the matmul peak {n_items / ceiling_seconds:6.2f} "
              f"items/s ({generate_seconds / ceiling_seconds:.1f}x generate; now "
              f"{ceiling_seconds / likelihood_seconds:.0%} of peak, "
              f"{scoring.processed / n_items:.0f} tokens an item)", flush=True)
        # What generation's own first step costs: every prompt whole, as generate runs it
        # (left-padded batches, the last position's logits only).
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in batches([task.prompt_messages(i) for i in items], batch_size):
                encoded = tokenizer([render_prompt(tokenizer, m) for m in batch],
                                    return_tensors="pt", padding=True, padding_side="left",
                                    add_special_tokens=False)
                model(**encoded, logits_to_keep=1)
        prompt_seconds = time.perf_counter() - started
        print(f"{name:20s} whole prompts only {n_items / prompt_seconds:6.2f} items/s "
              f"({generate_seconds / prompt_seconds:.1f}x generate)", flush=True)


SIDE_BY_SIDE = textwrap.dedent("""
    import json, tempfile, time
    from pathlib import Path
    from sftdpo.runtime import skip_bitsandbytes, prepare_torch
    skip_bitsandbytes()
    prepare_torch({threads}, 0)
    from sftdpo.tasks import BUILTIN_TASKS
    from sftdpo.training import build_sft_trainer
    task = BUILTIN_TASKS["{task}"]
    items = task.build_items({n_items} + 8, 0)
    trainer, _ = build_sft_trainer("{model_dir}",
                                   {{"dtype": "bfloat16", "quantization": "none"}},
                                   task, items[8:], items[:8], {settings}, 0, "cpu",
                                   Path(tempfile.mkdtemp()) / "sft")
    started = time.perf_counter()
    trainer.train()
    print("RESULT", json.dumps([trainer.state.num_input_tokens_seen,
                                time.perf_counter() - started]))
""")


# One SFT epoch in a fresh process with freed memory handed back to the kernel (glibc's
# default) or kept (sftdpo.runtime.keep_freed_memory, which start_job calls); the kernel's
# share of the time and the page faults come from getrusage, the peak resident memory from
# the job's compute meter (the kernel's VmHWM: getrusage's ru_maxrss keeps the benchmark's own
# peak, which the child had at fork, across the exec on Linux).
MEMORY = textwrap.dedent("""
    import json, resource, tempfile, time
    from pathlib import Path
    from sftdpo.runtime import JobMeter, keep_freed_memory, prepare_torch, skip_bitsandbytes
    skip_bitsandbytes()
    if {keep}:
        keep_freed_memory()
    prepare_torch({threads}, 0)
    from sftdpo.tasks import BUILTIN_TASKS
    from sftdpo.training import build_sft_trainer, score_labelled_positions_only
    task = BUILTIN_TASKS["{task}"]
    items = task.build_items({n_items} + 1, 0)
    trainer, _ = build_sft_trainer("{model_dir}", {spec}, task, items[1:], items[:1],
                                   {settings}, 0, "cpu", Path(tempfile.mkdtemp()) / "sft")
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with score_labelled_positions_only():
        trainer.train()
    after = resource.getrusage(resource.RUSAGE_SELF)
    print("RESULT", json.dumps([trainer.state.num_input_tokens_seen,
                                time.perf_counter() - started, after.ru_stime - before.ru_stime,
                                after.ru_minflt - before.ru_minflt,
                                JobMeter("cpu").peak_memory_mib()]))
""")


def result_line(stdout: str) -> list:
    """The values a benchmark subprocess printed on its ``RESULT`` line (JSON)."""
    return json.loads(next(line for line in stdout.splitlines()
                           if line.startswith("RESULT"))[len("RESULT "):])


def memory(model_dir: Path, threads: int) -> None:
    print("\n== memory: one SFT epoch, freed memory handed back to the kernel (glibc's default) "
          "or kept (start_job)")
    print(f"{'task':24s} {'freed memory':14s} {'epoch s':>8s} {'tok/s':>6s} {'kernel s':>8s} "
          f"{'faults':>8s} {'peak MiB':>8s}")
    # The summaries as the default config trains them (sdpa), 40 notes; provider triage.
    for task, n_items, spec in (("hospital_course_summary", 40, {**SPEC, "attention": "sdpa"}),
                                ("provider_triage", 64, SPEC_NOW)):
        for keep, name in ((False, "handed back"), (True, "kept (now)")):
            code = MEMORY.format(keep=keep, threads=threads, task=task, n_items=n_items,
                                 spec=spec, settings=NOW, model_dir=model_dir)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout
            tokens, seconds, kernel, faults, peak = result_line(out)
            print(f"{task:24s} {name:14s} {seconds:8.1f} {tokens / seconds:6.0f} {kernel:8.1f} "
                  f"{faults:8d} {peak:8.0f}", flush=True)


def threads_side_by_side(model_dir: Path, n_items: int) -> None:
    print(f"\n== threads: SFT on {n_items} items, one 2-thread job vs two 1-thread jobs at once")

    def start(threads, task):
        code = SIDE_BY_SIDE.format(threads=threads, task=task, n_items=n_items, settings=NOW,
                                   model_dir=model_dir)
        return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)

    def result(process):
        return result_line(process.communicate()[0])

    started = time.perf_counter()
    tokens, _ = result(start(2, "provider_triage"))
    print(f"one job, 2 threads:   {tokens / (time.perf_counter() - started):6.0f} tok/s")
    started = time.perf_counter()
    jobs = [start(1, "provider_triage"), start(1, "urgency_triage")]
    tokens = sum(result(job)[0] for job in jobs)
    print(f"two jobs, 1 thread:   {tokens / (time.perf_counter() - started):6.0f} tok/s in all "
          "(wall time from start to the later job's end, start-up included in both rows)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("resources/models/smollm2-135m"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--items", type=int, default=64, help="training items per run")
    parser.add_argument("--only", nargs="*", default=["training", "startup", "evaluation",
                                                      "memory", "threads"])
    args = parser.parse_args()
    model_dir = args.model_dir.resolve()
    peak = bf16_peak(args.threads)
    print(f"device cpu, {args.threads} torch threads, bf16 matmul peak {peak / 1e9:.0f} GFLOP/s")
    if "training" in args.only:
        training(model_dir, args.items, peak)
    if "startup" in args.only:
        startup(model_dir, args.threads)
    if "evaluation" in args.only:
        # The default config's generation.batch_size, which both modes batch by.
        evaluation(model_dir, 32, 16, peak)
    if "memory" in args.only:
        memory(model_dir, args.threads)
    if "threads" in args.only:
        threads_side_by_side(model_dir, args.items)


if __name__ == "__main__":
    main()
