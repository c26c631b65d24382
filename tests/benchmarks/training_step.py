"""Seconds per SFT and DPO step with TRL's fused LM head scoring every position (TRL's default
off Triton, e.g. on a CPU) and scoring only labelled positions (what the workflow does).

    python tests/benchmarks/training_step.py [MODEL_DIR] [--steps N]

MODEL_DIR defaults to the embedded model as the workflow materialises it
(resources/models/smollm2-135m). Prints one line per stage and setting; a benchmark, not a test.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
import trl.trainer.utils as trl_utils
from transformers import TrainerCallback

from sftdpo.modeling import resolve_device
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.training import build_dpo_trainer, build_sft_trainer, save_adapter

STAGE = {"epochs": 1, "batch_size": 8, "gradient_accumulation_steps": 1, "max_length": 320,
         "lr_scheduler": "constant", "warmup_steps": 0, "gradient_checkpointing": False,
         "mixed_precision": "bf16"}
SETTINGS = {
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "top_layers": 8,
             "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                "up_proj", "down_proj"]},
    "sft": {**STAGE, "learning_rate": 5e-4},
    "dpo": {**STAGE, "learning_rate": 1e-4, "beta": 0.1,
            "loss_type": ["sigmoid"], "loss_weights": None},
}


class StepTimer(TrainerCallback):
    def __init__(self):
        self.seconds = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self.started)


def timed(trainer) -> float:
    timer = StepTimer()
    trainer.add_callback(timer)
    trainer.train()
    return sum(timer.seconds[1:]) / len(timer.seconds[1:])  # the first step warms up


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", nargs="?", default="resources/models/smollm2-135m")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    device = resolve_device()
    task = BUILTIN_TASKS["provider_triage"]
    items = task.build_items(8 * (args.steps + 1), 0)
    spec = {"dtype": "bfloat16", "quantization": "none"}
    every_position = trl_utils._use_triton
    with tempfile.TemporaryDirectory() as tmp:
        sft_dir = Path(tmp) / "sft"
        print(f"device {device}, torch threads {torch.get_num_threads()}, model {args.model_dir}")
        for label in ("every position", "labelled only"):
            sft = build_sft_trainer(args.model_dir, spec, task, items, items[:8], SETTINGS, 0,
                                    device, sft_dir)
            if label == "every position":  # undo the workflow's setting for the baseline
                trl_utils._use_triton = every_position
            print(f"SFT  {label:15s} {timed(sft):6.2f} s/step (batch 8)", flush=True)
            save_adapter(sft, sft_dir, time.time())
            pairs = [{"prompt": task.prompt_messages(i), "chosen": task.gold(i),
                      "rejected": next(x for x in task.labels if x != task.gold(i))}
                     for i in items]
            dpo = build_dpo_trainer(args.model_dir, spec, sft_dir, pairs, SETTINGS, 0, device,
                                    Path(tmp) / "dpo")
            if label == "every position":
                trl_utils._use_triton = every_position
            print(f"DPO  {label:15s} {timed(dpo):6.2f} s/step (batch 8 pairs)", flush=True)


if __name__ == "__main__":
    main()
