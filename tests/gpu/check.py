"""The GPU check: what only a GPU can show, in one short run, figures written to a file.

    python tests/gpu/check.py --out gpu_check.json          # on a machine with a CUDA GPU
    python tests/gpu/check.py --tiny --device cpu --out x   # its CPU-safe parts (CI)

On the GPU (``tests/gpu/check.sh`` runs it with the workflow's tests on CUDA), for a randomly
initialised model of Llama-3-8B's shape (built from its config, never downloaded), under bf16
LoRA and under 4-bit NF4 QLoRA (bitsandbytes), a few SFT and DPO steps through the workflow's
own trainers (sftdpo.training): tokens per second, the FLOPs the compute record counts, the
model FLOP utilisation against the GPU's measured bf16 matmul peak, and the peak memory; and
the GPU lease (sftdpo.gpu) over the GPUs it finds. ``--tiny`` takes a 2-layer model of the same
family instead, so the same code runs on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

# Llama-3-8B's shape (meta-llama/Meta-Llama-3-8B config.json), with a vocabulary the test
# tokenizer's ids fit in: the embedding is a lookup, the LM head is counted by the record.
LLAMA3_8B = {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
             "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
             "max_position_embeddings": 8192, "rope_theta": 500000.0}
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 2000,
        "max_position_embeddings": 1024}
LORA = {"r": 16, "alpha": 32, "dropout": 0.0, "top_layers": None,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                           "down_proj"]}


def matmul_peak(device: str, size: int = 8192, repeats: int = 20) -> float:
    """The device's measured bf16 matmul FLOP/s (the MFU's denominator)."""
    import torch

    size = size if device == "cuda" else 512
    a = torch.randn(size, size, dtype=torch.bfloat16, device=device)
    b = torch.randn(size, size, dtype=torch.bfloat16, device=device)
    a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def build_model(folder: Path, shape: dict, device: str) -> Path:
    """A random Llama of ``shape`` with the test tokenizer, built on ``device`` in bf16 (an
    8B model's 16 GB at once, not 32 GB of float32 on the host) and saved to ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from sftdpo.tasks import BUILTIN_TASKS
    from tiny_model import build_tiny_model

    task = BUILTIN_TASKS["provider_triage"]
    items = task.build_items(60, 0)
    build_tiny_model(folder, [item["text"] for item in items]
                     + [task.completion(item) for item in items] * 3)
    config = LlamaConfig.from_pretrained(folder)
    for key, value in shape.items():
        setattr(config, key, value)
    config.vocab_size = max(shape["vocab_size"], config.vocab_size)
    config.tie_word_embeddings = False
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, torch_dtype=torch.bfloat16)
    model.save_pretrained(folder)
    del model
    return folder


def stage_settings(steps: int, batch: int, context: int) -> dict:
    stage = {"epochs": 1, "batch_size": batch, "gradient_accumulation_steps": 1,
             "max_length": context, "lr_scheduler": "constant", "warmup_steps": 0,
             "gradient_checkpointing": True, "mixed_precision": "bf16",
             "group_by_length": False, "share_prompt": True, "learning_rate": 1e-4}
    return {"lora": LORA,
            "sft": stage | {"validation_loss": "end"},
            "dpo": stage | {"beta": 0.1, "loss_type": ["sigmoid"], "loss_weights": None,
                            "precompute_reference": True, "precompute_batch_size": batch,
                            "reference_from_pairs": False}}


def measure(stage: str, model_dir: Path, spec: dict, settings: dict, steps: int,
            device: str, peak: float, out: Path) -> dict:
    """A few steps of SFT or DPO through the workflow's trainer: its compute record's FLOPs
    over the measured time, against the peak."""
    import torch

    from sftdpo.runtime import JobMeter
    from sftdpo.tasks import BUILTIN_TASKS
    from sftdpo.training import build_dpo_trainer, build_sft_trainer, train_and_save

    task = BUILTIN_TASKS["provider_triage"]
    items = task.build_items(8 * settings["sft"]["batch_size"] * steps, 1)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if stage == "sft":
        trainer, sharing = build_sft_trainer(model_dir, spec, task, items, items[:4], settings,
                                             0, device, out)
    else:
        pairs = [{"prompt": task.prompt_messages(item), "chosen": task.gold(item),
                  "rejected": next(x for x in task.labels if x != task.gold(item))}
                 for item in items]
        trainer, sharing = build_dpo_trainer(model_dir, spec, out.with_name("sft"), pairs,
                                             settings, 0, device, out)
    trainer.args.max_steps = steps
    meter = JobMeter(device)
    train_and_save(trainer, out, meter, sharing=sharing)
    record = json.loads((out / "compute.json").read_text())
    seconds = record["accelerator_seconds"] or record["wall_seconds"]
    return {"stage": stage, "steps": record["global_steps"], "tokens": record["tokens"],
            "seconds": seconds, "tokens_per_second": record["tokens"] / seconds,
            "flops": record["flops"], "mfu": record["flops"] / seconds / peak,
            "peak_memory_mib": record["peak_memory_mib"], "device": record["device"]}


def lease_check() -> dict:
    """Every GPU found is leased once, each job seeing only its own."""
    import os

    from sftdpo.gpu import gpu_lease, nvml_device_count, visible_gpus

    gpus = visible_gpus(os.environ, nvml_device_count)
    seen = []
    for _ in gpus:
        with gpu_lease(1):
            seen.append(os.environ.get("CUDA_VISIBLE_DEVICES"))
    return {"gpus": gpus, "leased": seen}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON file of figures")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model, not 8B's shape")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if any)")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    shape = TINY if args.tiny else LLAMA3_8B
    figures = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
               "shape": "tiny" if args.tiny else "Llama-3-8B", "runs": []}
    figures["bf16_matmul_flops"] = peak = matmul_peak(device)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = build_model(Path(scratch) / "model", shape, device)
        settings = stage_settings(args.steps, 2 if args.tiny else 4, 256)
        quantizations = ["none"] + (["nf4"] if device == "cuda" or args.tiny else [])
        for quantization in quantizations:
            spec = {"source": "local", "dtype": "bfloat16", "quantization": quantization}
            for stage in ("sft", "dpo"):
                out = Path(scratch) / quantization / stage
                run = measure(stage, model_dir, spec, settings, args.steps, device, peak, out)
                figures["runs"].append({"quantization": quantization, **run})
                print(json.dumps(figures["runs"][-1]), flush=True)
    if device == "cuda":
        figures["lease"] = lease_check()
    args.out.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
