"""QLoRA wiring on the CPU: 4-bit NF4 loading, SFT and DPO on a frozen 4-bit base through the
package's own code, and generation with the adapter (what `quantization: nf4` does on a GPU).

bitsandbytes 0.50 runs 4-bit NF4 on a CPU. Its CPU inference kernel works on blocks of 64
input features, so the tiny model here is 64 wide (the shared one is 32); real models' widths
are multiples of 64.
"""

import json
import math
import shutil

import bitsandbytes as bnb
import pytest
import torch

from sftdpo.inference import generate_answers
from sftdpo.modeling import compute_dtype, load_base_model, load_tokenizer, load_with_adapter
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.training import build_dpo_trainer, build_sft_trainer, train_and_save

SPEC = {"dtype": "bfloat16", "quantization": "nf4"}
TASK = BUILTIN_TASKS["provider_triage"]
PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# As config/paper.yaml: LoRA on every projection of every block, gradient checkpointing, bf16.
# Two epochs, so the second one trains after SFT's validation pass.
STAGE = {"epochs": 2, "batch_size": 4, "gradient_accumulation_steps": 1, "max_length": 1024,
         "lr_scheduler": "constant", "warmup_steps": 0, "gradient_checkpointing": True,
         "mixed_precision": "bf16", "group_by_length": False, "share_prompt": False}
SETTINGS = {
    "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "top_layers": None,
             "target_modules": PROJECTIONS},
    "sft": {**STAGE, "learning_rate": 5e-2, "validation_loss": "each_epoch"},
    "dpo": {**STAGE, "epochs": 1, "learning_rate": 5e-2, "beta": 0.1,
            "loss_type": ["sigmoid"], "loss_weights": None,
            "precompute_reference": False, "precompute_batch_size": 8,
            "reference_from_pairs": True,
            "share_prompt": False},
}


@pytest.fixture(scope="module")
def wide_model_dir(tiny_model_dir, tmp_path_factory):
    """The shared tiny Llama's tokenizer with a 64-wide random model of the same architecture."""
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama-64")
    config = LlamaConfig.from_pretrained(tiny_model_dir)
    config.hidden_size, config.intermediate_size, config.head_dim = 64, 128, 32
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    for path in tiny_model_dir.iterdir():
        if path.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(path, out / path.name)
    return out


@pytest.fixture(scope="module")
def sft_run(wide_model_dir, tmp_path_factory):
    items = TASK.build_items(12, 0)
    out = tmp_path_factory.mktemp("qlora") / "sft"
    trainer, sharing = build_sft_trainer(wide_model_dir, SPEC, TASK, items[:8], items[8:],
                                         SETTINGS, seed=0, device="cpu", out_dir=out)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    train_and_save(trainer, out, sharing=sharing)
    return trainer, trainable, out


def linear_layers(model):
    return {name: module for name, module in model.named_modules()
            if name.rsplit(".", 1)[-1] in PROJECTIONS}


def test_nf4_quantisation_round_trips_on_the_cpu():
    weights = torch.randn(128, 64, generator=torch.Generator().manual_seed(0)).bfloat16()
    packed, state = bnb.functional.quantize_4bit(weights, quant_type="nf4")
    assert packed.dtype == torch.uint8 and packed.numel() == weights.numel() // 2
    restored = bnb.functional.dequantize_4bit(packed, state)
    error = (restored.float() - weights.float()).abs().mean() / weights.float().abs().mean()
    assert 0 < error < 0.15


def test_nf4_spec_loads_every_projection_in_4bit(wide_model_dir):
    model = load_base_model(wide_model_dir, SPEC, "cpu")
    layers = linear_layers(model)
    assert len(layers) == 2 * len(PROJECTIONS)
    for name, layer in layers.items():
        assert isinstance(layer, bnb.nn.Linear4bit), name
        state = layer.weight.quant_state
        assert layer.weight.dtype == torch.uint8 and state.quant_type == "nf4", name
        assert state.nested, f"{name}: no double quantisation"
        # bfloat16, or float32 on a CPU without native bfloat16 (sftdpo.modeling.compute_dtype).
        assert layer.compute_dtype == compute_dtype("bfloat16", "cpu"), name
    assert not isinstance(model.lm_head, bnb.nn.Linear4bit)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[5, 17, 42, 99]])).logits
    assert torch.isfinite(logits).all()


def test_a_models_bitsandbytes_fields_reach_its_4bit_layers(wide_model_dir):
    """The entry's bitsandbytes section goes to BitsAndBytesConfig as it is: here no double
    quantisation, and the MLP's down projections (and the head) left unquantised."""
    spec = SPEC | {"bitsandbytes": {"bnb_4bit_use_double_quant": False,
                                    "llm_int8_skip_modules": ["down_proj", "lm_head"]}}
    model = load_base_model(wide_model_dir, spec, "cpu")
    for name, layer in linear_layers(model).items():
        if name.endswith("down_proj"):
            assert not isinstance(layer, bnb.nn.Linear4bit), name
        else:
            assert isinstance(layer, bnb.nn.Linear4bit), name
            assert layer.weight.quant_state.quant_type == "nf4", name
            assert not layer.weight.quant_state.nested, name


def test_qlora_sft_trains_adapters_on_a_frozen_4bit_base(sft_run):
    trainer, trainable, out = sft_run
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert len(trainable) == 2 * 2 * len(PROJECTIONS)  # A and B, every projection, both blocks
    for name, layer in linear_layers(trainer.model.base_model.model).items():
        if hasattr(layer, "base_layer"):
            base = layer.base_layer
            assert isinstance(base, bnb.nn.Linear4bit), name
            assert base.weight.dtype == torch.uint8 and not base.weight.requires_grad, name
    # LoRA B starts at zero: every adapter, in both blocks, got a gradient.
    untrained = [n for n, p in trainer.model.named_parameters()
                 if ".lora_B." in n and not p.detach().abs().sum() > 0]
    assert not untrained
    history = json.loads((out / "log_history.json").read_text())
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert len([entry for entry in history if "eval_loss" in entry]) == 2
    assert (out / "adapter_model.safetensors").is_file()
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]


def test_training_after_a_validation_pass_still_backpropagates_through_4bit_layers(
        wide_model_dir):
    """bitsandbytes repacks a 4-bit layer for CPU inference on its first eval-mode pass, and
    that layout has no backward; a model loaded for training must not take that path."""
    model = load_base_model(wide_model_dir, SPEC, "cpu", for_training=True)
    layer = model.model.layers[0].mlp.down_proj
    inputs = torch.randn(3, 128, generator=torch.Generator().manual_seed(1))

    def input_gradient():
        layer.train()
        x = inputs.clone().requires_grad_()
        layer(x).float().pow(2).sum().backward()
        return x.grad

    before = input_gradient()
    layer.eval()
    with torch.no_grad():
        layer(inputs)
    after = input_gradient()
    assert before is not None and after is not None
    assert torch.allclose(before, after)


def test_qlora_dpo_starts_from_the_sft_adapter(wide_model_dir, sft_run, tmp_path):
    items = TASK.build_items(4, 1)
    pairs = [{"prompt": TASK.prompt_messages(i), "chosen": TASK.gold(i),
              "rejected": next(x for x in TASK.labels if x != TASK.gold(i))} for i in items]
    out = tmp_path / "dpo"
    trainer, sharing = build_dpo_trainer(wide_model_dir, SPEC, sft_run[2], pairs, SETTINGS,
                                         seed=0, device="cpu", out_dir=out)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all(".default." in n for n in trainable)
    train_and_save(trainer, out, sharing=sharing)
    history = json.loads((out / "log_history.json").read_text())
    # Policy and reference (the SFT adapter) agree at the first step: the loss is log 2.
    assert history[0]["loss"] == pytest.approx(math.log(2), abs=1e-3)
    assert (out / "adapter_model.safetensors").is_file()


def test_qlora_adapter_loads_for_generation(wide_model_dir, sft_run):
    model = load_with_adapter(wide_model_dir, SPEC, sft_run[2], "cpu")
    tuned = model.base_model.model.model.layers[0].self_attn.q_proj
    assert isinstance(tuned.base_layer, bnb.nn.Linear4bit)
    ids = torch.tensor([[5, 17, 42, 99]])
    with torch.no_grad():
        with_adapter = model(input_ids=ids).logits
        with model.disable_adapter():
            without = model(input_ids=ids).logits
    assert not torch.allclose(with_adapter, without, atol=1e-3)
    items = TASK.build_items(2, 2)
    answers, generated = generate_answers(
        model, load_tokenizer(wide_model_dir), [TASK.prompt_messages(i) for i in items],
        max_new_tokens=4, batch_size=2)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    assert generated.generated > 0
