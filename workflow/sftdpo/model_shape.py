"""What the memory estimate needs of a model, known before any model job runs: its shape
(:class:`ModelShape`), read from its config.json without transformers: the materialised
folder's, a local folder's, the hub cache's, or the embedded model's (known before the model
job writes it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# SmolLM2-135M-Instruct, the embedded model (its config.json once materialised): known before
# the model job writes it, so the plan can size its jobs.
EMBEDDED_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
    "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
    "num_key_value_heads": 3, "head_dim": 64, "vocab_size": 49152,
    "tie_word_embeddings": True, "max_position_embeddings": 8192,
}


def _first(config: Mapping, *keys, default=None):
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a model, read from its Hugging Face config."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocabulary: int
    tied: bool
    experts: int = 1
    # The dtype its weights file holds (the config's torch_dtype); None where unsaid.
    stored: str | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> ModelShape:
        """From a config.json's values (a multimodal model's text config where it has one)."""
        config = config.get("text_config") or config
        hidden = int(_first(config, "hidden_size", "n_embd", "d_model"))
        heads = int(_first(config, "num_attention_heads", "n_head", "num_heads"))
        return cls(
            hidden=hidden,
            intermediate=int(_first(config, "intermediate_size", "n_inner", "ffn_dim",
                                    default=4 * hidden)),
            layers=int(_first(config, "num_hidden_layers", "n_layer", "num_layers")),
            heads=heads,
            kv_heads=int(_first(config, "num_key_value_heads", default=heads)),
            head_dim=int(_first(config, "head_dim", default=hidden // heads)),
            vocabulary=int(_first(config, "vocab_size")),
            tied=bool(config.get("tie_word_embeddings", True)),
            experts=int(_first(config, "num_local_experts", "num_experts", default=1)),
            stored=_first(config, "torch_dtype", "dtype"),
        )

    @property
    def block_linear_parameters(self) -> int:
        """One block's linear weights: attention projections and the gated MLP."""
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        return attention + 3 * self.hidden * self.intermediate * self.experts

    @property
    def embedding_parameters(self) -> int:
        """Input embeddings, and the output head where it is not tied to them."""
        return self.vocabulary * self.hidden * (1 if self.tied else 2)

    @property
    def parameters(self) -> int:
        norms = (2 * self.layers + 1) * self.hidden
        return self.layers * self.block_linear_parameters + self.embedding_parameters + norms


def model_config(spec: Mapping, folder: str | Path | None = None) -> dict | None:
    """The model's config: its materialised folder's config.json where it exists, else the
    embedded model's, a local folder's, or a hub model's from the hub cache (offline; None
    until it is downloaded)."""
    candidates = [Path(folder) / "config.json"] if folder else []
    if spec.get("source") == "embedded":
        found = [c for c in candidates if c.is_file()]
        return _json(found[0]) if found else dict(EMBEDDED_CONFIG)
    if spec.get("source") == "local" and spec.get("path"):
        candidates.append(Path(spec["path"]).expanduser() / "config.json")
    for candidate in candidates:
        if candidate.is_file():
            return _json(candidate)
    if spec.get("source") == "hub":
        return _hub_cached_config(spec["hub_id"], spec.get("revision"))
    return None


def _json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _hub_cached_config(hub_id: str, revision: str | None) -> dict | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    path = try_to_load_from_cache(hub_id, "config.json", revision=revision)
    return _json(Path(path)) if isinstance(path, str) else None


def shape_of(config: Mapping | None) -> ModelShape | None:
    """The shape of a config, or None where it lacks what the estimate needs."""
    if not config:
        return None
    try:
        return ModelShape.from_config(config)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
