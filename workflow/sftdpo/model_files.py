"""What a model folder holds, read from its files alone (no torch or transformers import, so
the planning checks in workflow/rules/common.smk can use it): its config, whether it has
weights and a tokenizer, whether it asks to run code of its own (``auto_map``), and the note
the model job leaves beside a materialised model (:data:`MODEL_NOTE`)."""

from __future__ import annotations

import json
from pathlib import Path


class ModelSourceError(ValueError):
    """A model named in the config cannot be found or is not a Hugging Face model folder."""


# Written by the model job beside the model's files: whether loads of the folder may run the
# model's own code (the entry's trust_remote_code), read by every load (:func:`trusts_remote_code`).
MODEL_NOTE = "sftdpo-model.json"
# The weights transformers loads, by the name it looks for: one file, or shards named by an
# index. The hub download takes safetensors only.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
# A tokenizer transformers can build without the model's code: its fast tokenizer file, a
# SentencePiece model, or a BPE or WordPiece vocabulary.
TOKENIZER_FILES = (("tokenizer.json",), ("tokenizer.model",), ("spiece.model",),
                   ("vocab.json", "merges.txt"), ("vocab.txt",))


def remote_code_setting(name: str) -> str:
    return f"models.{name}.trust_remote_code"


def read_json_object(path: Path) -> dict | None:
    """The JSON object in ``path``; None where there is no such file; ModelSourceError where
    it is not a JSON object."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelSourceError(f"{path}: not readable as JSON ({error})") from error
    if not isinstance(value, dict):
        raise ModelSourceError(f"{path}: not a JSON object")
    return value


def model_folder_problems(folder: str | Path, name: str, trust_remote_code: bool = False,
                          downloaded: bool = False, files: bool = True) -> list[str]:
    """What keeps the workflow from loading the model in ``folder`` (config entry
    ``models.<name>``), by its files only, each as a phrase; none where it can. Quick (no
    transformers import): the planning check (workflow/rules/common.smk) runs it on a local
    folder before any job, the model job on every folder it makes
    (:func:`sftdpo.modeling.check_model_folder`).
    ``downloaded``: the folder is a hub download, which takes safetensors weights only;
    ``files`` False: the config and ``auto_map`` only, not the weights and tokenizer files."""
    folder = Path(folder)
    config = read_json_object(folder / "config.json")
    if config is None:
        return ["no config.json (the model's Hugging Face config)"]
    problems = []
    indexes = [folder / n for n in WEIGHT_INDEXES if files and (folder / n).is_file()]
    index = indexes[0] if indexes else None
    if index is not None:
        shards = sorted(set((read_json_object(index) or {}).get("weight_map", {}).values()))
        missing = [shard for shard in shards if not (folder / shard).is_file()]
        if not shards:
            problems.append(f"{index.name} names no weight files")
        elif missing:
            problems.append(f"{index.name} names weight files that are not there: "
                            f"{', '.join(missing[:5])}" + (f" and {len(missing) - 5} more"
                                                           if len(missing) > 5 else ""))
    elif files and not any((folder / n).is_file() for n in WEIGHT_FILES):
        problems.append(
            "no weights (model.safetensors, or shards named by model.safetensors.index.json"
            + (")" if downloaded else ", or pytorch_model.bin)")
            + ("; the hub download takes safetensors weights only" if downloaded else ""))
    if files and not any(all((folder / n).is_file() for n in names) for names in TOKENIZER_FILES):
        problems.append("no tokenizer (tokenizer.json, tokenizer.model, or vocab.json with "
                        "merges.txt)")
    if not trust_remote_code:
        tokenizer_config = read_json_object(folder / "tokenizer_config.json") or {}
        for file, values in (("config.json", config), ("tokenizer_config.json", tokenizer_config)):
            auto_map = values.get("auto_map")
            if auto_map:
                classes = (", ".join(f"{key}: {value}" for key, value in auto_map.items())
                           if isinstance(auto_map, dict) else str(auto_map))
                problems.append(
                    f"it asks to run code of its own (auto_map in {file}: {classes}), which the "
                    f"workflow runs only where the config allows it: "
                    f"{remote_code_setting(name)}: true (read that code first)")
    return problems


def trusts_remote_code(model_dir: str | Path) -> bool:
    """Whether loads of the materialised model in ``model_dir`` may run the model's own code:
    what its entry's ``trust_remote_code`` was when the model job made the folder; False for
    a folder the model job did not make."""
    note = read_json_object(Path(model_dir) / MODEL_NOTE)
    return bool(note and note.get("trust_remote_code", False))
