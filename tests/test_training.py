"""SFT and DPO wiring on the tiny model: what is trained, and what DPO's reference is."""

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch

from sftdpo.flops import training_flops
from sftdpo.modeling import load_base_model, load_tokenizer, load_with_adapter
from sftdpo.pairs import PairContext, hardest_wrong_label_pairs, with_reference
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.trackers import TrainingRun, keep_trackers_offline
from sftdpo.trainer_config import lora_config
from sftdpo.training import (
    build_dpo_trainer,
    build_matched_trainer,
    build_sft_trainer,
    score_labelled_positions_only,
    train_and_save,
)

SPEC = {"dtype": "float32", "quantization": "none"}
TASK = BUILTIN_TASKS["provider_triage"]
STAGE = {"epochs": 1, "batch_size": 4, "gradient_accumulation_steps": 1, "max_length": 1024,
         "lr_scheduler": "constant", "warmup_steps": 0, "gradient_checkpointing": False,
         "mixed_precision": "none", "group_by_length": False, "share_prompt": False}
SETTINGS = {
    "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "top_layers": None,
             "target_modules": ["q_proj", "v_proj", "up_proj"]},
    "sft": {**STAGE, "learning_rate": 5e-2, "validation_loss": "end"},
    "dpo": {**STAGE, "learning_rate": 5e-2, "beta": 0.1,
            "loss_type": ["sigmoid"], "loss_weights": None,
            "precompute_reference": False, "precompute_batch_size": 8,
            "reference_from_pairs": True,
            "share_prompt": False},
}


def first_wrong_label_pairs(items):
    """Pairs rejecting the first wrong label, with no log-probabilities recorded."""
    return [{"prompt": TASK.prompt_messages(i), "chosen": TASK.gold(i),
             "rejected": next(x for x in TASK.labels if x != TASK.gold(i))} for i in items]


@pytest.fixture(scope="module")
def sft_adapter(tiny_model_dir, tmp_path_factory):
    items = TASK.build_items(12, 0)
    out = tmp_path_factory.mktemp("adapters") / "sft"
    trainer, sharing = build_sft_trainer(tiny_model_dir, SPEC, TASK, items[:8], items[8:], SETTINGS,
                                         seed=0, device="cpu", out_dir=out)
    train_and_save(trainer, out, sharing=sharing)
    return out


def test_sft_trains_on_the_answer_only(tiny_model_dir, tmp_path):
    items = TASK.build_items(4, 0)
    trainer, _ = build_sft_trainer(tiny_model_dir, SPEC, TASK, items, items, SETTINGS, seed=0,
                                   device="cpu", out_dir=tmp_path / "sft")
    row = trainer.train_dataset[0]
    trained = [token for token in row["labels"] if token != -100]
    decoded = trainer.processing_class.decode(trained)
    assert decoded.startswith(TASK.gold(items[0])) and "<|im_end|>" in decoded
    assert len(trained) < len(row["input_ids"]) / 4


def test_sft_leaves_an_adapter_with_its_training_log(sft_adapter):
    assert (sft_adapter / "adapter_model.safetensors").is_file()
    history = json.loads((sft_adapter / "log_history.json").read_text())
    assert any("loss" in e for e in history) and any("eval_loss" in e for e in history)
    assert not sft_adapter.with_name("sft.partial").exists()


@pytest.mark.parametrize("when, epochs", [("end", [2.0]), ("each_epoch", [1.0, 2.0])])
def test_sft_computes_its_validation_loss_when_the_config_says(tiny_model_dir, tmp_path, when,
                                                                epochs):
    """``end``: one validation pass, after the last step (the callback; transformers has no
    such strategy); ``each_epoch``: after each epoch. The log still ends with the trainer's
    summary, which the compute record reads its runtime from."""
    items = TASK.build_items(8, 0)
    settings = {**SETTINGS, "sft": {**SETTINGS["sft"], "epochs": 2, "validation_loss": when}}
    out = tmp_path / "sft"
    trainer, sharing = build_sft_trainer(tiny_model_dir, SPEC, TASK, items[:4], items[4:], settings,
                                         seed=0, device="cpu", out_dir=out)
    train_and_save(trainer, out, sharing=sharing)
    history = json.loads((out / "log_history.json").read_text())
    assert [entry["epoch"] for entry in history if "eval_loss" in entry] == epochs
    assert [entry["step"] for entry in history if "eval_loss" in entry][-1] == 2
    assert json.loads((out / "compute.json").read_text())["train_runtime"] > 0


def test_a_saved_adapter_config_does_not_depend_on_pythons_hash_seed(tiny_model_dir, tmp_path):
    """Reruns give the same files: PEFT keeps target_modules as a set, whose order follows
    the string hash seed each Python process draws."""
    code = textwrap.dedent(f"""
        from pathlib import Path
        from types import SimpleNamespace
        from peft import get_peft_model
        from sftdpo.modeling import load_base_model, load_tokenizer
        from sftdpo.trainer_config import lora_config
        from sftdpo.training import save_adapter
        lora = {{**{SETTINGS["lora"]!r},
                 "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"]}}
        model = get_peft_model(load_base_model({str(tiny_model_dir)!r}, {SPEC!r}, "cpu"),
                               lora_config(lora, num_layers=2))
        trainer = SimpleNamespace(model=model,
                                  processing_class=load_tokenizer({str(tiny_model_dir)!r}),
                                  state=SimpleNamespace(log_history=[{{}}], global_step=0))
        save_adapter(trainer, Path(__import__("sys").argv[1]), {{}})
    """)
    for seed in ("1", "2"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / seed)], check=True,
                       timeout=120, env={**os.environ, "PYTHONHASHSEED": seed})
    assert ((tmp_path / "1" / "adapter_config.json").read_bytes()
            == (tmp_path / "2" / "adapter_config.json").read_bytes())


def test_the_matched_control_continues_the_sft_adapter_for_the_steps_it_is_given(
        tiny_model_dir, sft_adapter, tmp_path):
    items = TASK.build_items(12, 0)
    settings = {**SETTINGS, "sft": {**SETTINGS["sft"], "lr_scheduler": "linear",
                                    "warmup_steps": 2}}
    trainer, sharing = build_matched_trainer(tiny_model_dir, SPEC, TASK, items[:8], sft_adapter,
                                             settings, steps=3, sft_steps=2, seed=0, device="cpu",
                                             out_dir=tmp_path / "matched")
    sft = load_with_adapter(tiny_model_dir, SPEC, sft_adapter, "cpu")
    start = {name: p for name, p in sft.named_parameters() if "lora_" in name}
    for name, parameter in trainer.model.named_parameters():
        if "lora_" in name:  # it starts where SFT ended, and trains that adapter
            assert torch.equal(parameter, start[name]) and parameter.requires_grad, name
    # SFT's schedule shape: warmup the same share of the steps (2 of 2 there, 3 of 3 here).
    assert trainer.args.max_steps == 3 and trainer.args.warmup_steps == 3
    assert trainer.eval_dataset is None
    train_and_save(trainer, tmp_path / "matched", sharing=sharing)
    record = json.loads((tmp_path / "matched" / "compute.json").read_text())
    assert record["global_steps"] == 3 and record["flops"] > 0


def test_top_layers_adapt_only_the_last_blocks():
    settings = {**SETTINGS["lora"], "top_layers": 2}
    assert lora_config(settings, num_layers=30).layers_to_transform == [28, 29]


def test_dpo_reference_is_the_sft_model_not_the_base(tiny_model_dir, sft_adapter, tmp_path):
    items = TASK.build_items(8, 1)
    pairs = first_wrong_label_pairs(items)
    trainer, _ = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, pairs, SETTINGS, seed=0,
                                   device="cpu", out_dir=tmp_path / "dpo")
    model = trainer.model
    assert set(model.peft_config) == {"default", "ref"}
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        model.set_adapter("ref")
        reference = model(input_ids=ids).logits
        model.set_adapter("default")
        sft = load_with_adapter(tiny_model_dir, SPEC, sft_adapter, "cpu")(input_ids=ids).logits
        base = load_base_model(tiny_model_dir, SPEC, "cpu")(input_ids=ids).logits
    assert torch.allclose(reference, sft, atol=1e-5)
    assert not torch.allclose(reference, base, atol=1e-3)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".default." in n for n in trainable)


def test_scoring_labelled_positions_only_gives_the_same_loss(tiny_model_dir, tmp_path):
    import trl.trainer.utils as trl_utils

    items = TASK.build_items(4, 0)
    trainer, _ = build_sft_trainer(tiny_model_dir, SPEC, TASK, items, items, SETTINGS, seed=0,
                                   device="cpu", out_dir=tmp_path / "sft")
    batch = next(iter(trainer.get_train_dataloader()))
    original = trl_utils._use_triton
    assert original(torch.device("cpu")) is False  # TRL's own choice on a CPU
    with torch.no_grad():
        with score_labelled_positions_only():
            assert trl_utils._use_triton(torch.device("cpu")) is True
            labelled_only = trainer.compute_loss(trainer.model, dict(batch))
        # Scoped: TRL's function is back once the block is left.
        assert trl_utils._use_triton is original
        every_position = trainer.compute_loss(trainer.model, dict(batch))
    assert labelled_only.item() == pytest.approx(every_position.item(), rel=1e-5)


def test_without_trl_switch_training_warns_and_changes_nothing(monkeypatch):
    import trl.trainer.utils as trl_utils

    monkeypatch.delattr(trl_utils, "_use_triton")
    with pytest.warns(RuntimeWarning, match=r"trl.trainer.utils._use_triton is not a function"):
        with score_labelled_positions_only():
            pass
    assert not hasattr(trl_utils, "_use_triton")


def test_precomputed_reference_log_probs_equal_the_online_reference(tiny_model_dir, sft_adapter,
                                                                    tmp_path):
    """The values DPO reads from the batch with ``precompute_reference`` are what the "ref"
    adapter (the SFT model) gives the same batch online."""
    items = TASK.build_items(6, 2)
    pairs = first_wrong_label_pairs(items)
    settings = {**SETTINGS, "dpo": {**SETTINGS["dpo"], "precompute_reference": True,
                                    "precompute_batch_size": 4}}
    trainer, _ = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, pairs, settings, seed=0,
                                   device="cpu", out_dir=tmp_path / "dpo")
    assert {"ref_chosen_logps", "ref_rejected_logps"} <= set(trainer.train_dataset.column_names)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(pairs))])
    online_chosen, online_rejected = trainer.compute_ref_log_probs(trainer.model, batch)
    assert torch.allclose(batch["ref_chosen_logps"], online_chosen, atol=1e-4)
    assert torch.allclose(batch["ref_rejected_logps"], online_rejected, atol=1e-4)
    # They are the SFT model's: the chosen and rejected answers differ, so do their values.
    assert not torch.allclose(online_chosen, online_rejected, atol=1e-3)


def hardest_wrong_pairs(model_dir, sft_adapter, items):
    """Pairs as the pairs job makes them: the SFT model loaded for inference ranks the labels."""
    context = PairContext(model=load_with_adapter(model_dir, SPEC, sft_adapter, "cpu"),
                          tokenizer=load_tokenizer(model_dir), task=TASK, items=items, seed=0,
                          max_new_tokens=8, batch_size=4)
    return hardest_wrong_label_pairs(context)


def reference_settings(from_pairs: bool) -> dict:
    return {**SETTINGS, "dpo": {**SETTINGS["dpo"], "precompute_reference": True,
                                "precompute_batch_size": 4, "reference_from_pairs": from_pairs}}


def test_the_pairs_jobs_log_probabilities_are_the_reference_trl_precomputes(
        tiny_model_dir, sft_adapter, tmp_path):
    pairs = hardest_wrong_pairs(tiny_model_dir, sft_adapter, TASK.build_items(6, 3))
    trainer, _ = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, pairs,
                                   reference_settings(from_pairs=False), seed=0, device="cpu",
                                   out_dir=tmp_path / "dpo")
    assert trainer.args.precompute_ref_log_probs  # TRL's own pass ran
    torch.testing.assert_close(torch.tensor(trainer.train_dataset["ref_chosen_logps"]),
                               torch.tensor([p["chosen_logprob"] for p in pairs]), atol=1e-4,
                               rtol=0)
    torch.testing.assert_close(torch.tensor(trainer.train_dataset["ref_rejected_logps"]),
                               torch.tensor([p["rejected_logprob"] for p in pairs]), atol=1e-4,
                               rtol=0)


def test_pairs_of_any_strategy_get_the_reference_trl_precomputes(tiny_model_dir, sft_adapter,
                                                                 tmp_path):
    """with_reference scores the pairs a strategy left without log-probabilities (several-token
    answers here, as degraded summaries or on-policy answers have): TRL's pass agrees."""
    items = TASK.build_items(6, 3)
    pairs = [pair | {"rejected": f"Probably {pair['rejected']}, though the note is unclear."}
             for pair in first_wrong_label_pairs(items)]
    context = PairContext(model=load_with_adapter(tiny_model_dir, SPEC, sft_adapter, "cpu"),
                          tokenizer=load_tokenizer(tiny_model_dir), task=TASK, items=items,
                          seed=0, max_new_tokens=8, batch_size=4)
    recorded = with_reference(context, pairs, context_length=512)
    trainer, _ = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, recorded,
                                   reference_settings(from_pairs=False), seed=0, device="cpu",
                                   out_dir=tmp_path / "dpo")
    assert trainer.args.precompute_ref_log_probs  # TRL's own pass ran
    for side in ("chosen", "rejected"):
        torch.testing.assert_close(torch.tensor(trainer.train_dataset[f"ref_{side}_logps"]),
                                   torch.tensor([p[f"{side}_logprob"] for p in recorded]),
                                   atol=1e-4, rtol=0)
    # A pair longer than the context is one DPO truncates: no pair gets values then.
    assert with_reference(context, pairs, context_length=20) == pairs


def test_dpo_reads_its_reference_from_the_pairs_and_runs_no_reference_pass(
        tiny_model_dir, sft_adapter, tmp_path, monkeypatch):
    pairs = hardest_wrong_pairs(tiny_model_dir, sft_adapter, TASK.build_items(6, 3))
    losses = {}
    for from_pairs in (False, True):
        trainer, sharing = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, pairs,
                                             reference_settings(from_pairs), seed=0, device="cpu",
                                             out_dir=tmp_path / f"dpo{from_pairs}")
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(pairs))])
        if from_pairs:
            assert not trainer.args.precompute_ref_log_probs
            assert batch["ref_chosen_logps"].tolist() == pytest.approx(
                [p["chosen_logprob"] for p in pairs])
            monkeypatch.setattr(trainer, "compute_ref_log_probs", None)  # never called
        with torch.no_grad():
            losses[from_pairs] = trainer.compute_loss(trainer.model, dict(batch)).item()
            if from_pairs:
                # The loss moves with the values in the batch: TRL reads them.
                shifted = dict(batch, ref_chosen_logps=batch["ref_chosen_logps"] + 1.0)
                assert trainer.compute_loss(trainer.model, shifted).item() > losses[True] + 1e-3
        if from_pairs:
            # Training runs no reference pass either, and the compute record counts none.
            with score_labelled_positions_only():
                trainer.train()
            assert training_flops(trainer, sharing)["reference_tokens"] == 0
    assert losses[True] == pytest.approx(losses[False], abs=1e-5)


def test_pairs_without_recorded_log_probabilities_get_trls_reference_pass(
        tiny_model_dir, sft_adapter, tmp_path):
    items = TASK.build_items(4, 2)
    pairs = first_wrong_label_pairs(items)
    trainer, _ = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, pairs,
                                   reference_settings(from_pairs=True), seed=0, device="cpu",
                                   out_dir=tmp_path / "dpo")
    assert trainer.args.precompute_ref_log_probs
    assert {"ref_chosen_logps", "ref_rejected_logps"} <= set(trainer.train_dataset.column_names)


def test_the_switch_holds_while_training_and_only_then(tiny_model_dir, tmp_path):
    import trl.trainer.utils as trl_utils
    from transformers import TrainerCallback

    seen = []

    class Probe(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            seen.append(trl_utils._use_triton(torch.device("cpu")))

    items = TASK.build_items(4, 0)
    trainer, sharing = build_sft_trainer(tiny_model_dir, SPEC, TASK, items, items, SETTINGS, seed=0,
                                         device="cpu", out_dir=tmp_path / "sft")
    trainer.add_callback(Probe())
    train_and_save(trainer, tmp_path / "sft", sharing=sharing)
    assert seen and all(seen)
    assert trl_utils._use_triton(torch.device("cpu")) is False


# TRL's and PEFT's own fields, as a stage's and the lora section give them (a one-value list is
# that value in a stage's section: sftdpo.selection.scalar_settings).
TRL_FIELDS = {"weight_decay": 0.01, "max_grad_norm": 0.5, "neftune_noise_alpha": 5.0,
              "lr_scheduler_kwargs": {"min_lr_rate": 0.1}, "optim": "adafactor",
              "label_names": "labels"}


def test_trl_and_peft_fields_reach_the_trainers(tiny_model_dir, sft_adapter, tmp_path):
    items = TASK.build_items(8, 0)
    settings = {"lora": {**SETTINGS["lora"], "use_rslora": True},
                "sft": {**SETTINGS["sft"], **TRL_FIELDS, "lr_scheduler": "cosine_with_min_lr"},
                "dpo": {**SETTINGS["dpo"], "weight_decay": 0.02, "max_grad_norm": 0.25}}
    run = TrainingRun("tiny", "provider_triage", 3, "sft")
    sft, _ = build_sft_trainer(tiny_model_dir, SPEC, TASK, items[:4], items[4:], settings, seed=0,
                               device="cpu", out_dir=tmp_path / "sft", run=run)
    matched, _ = build_matched_trainer(tiny_model_dir, SPEC, TASK, items[:4], sft_adapter,
                                       settings, steps=2, sft_steps=1, seed=0, device="cpu",
                                       out_dir=tmp_path / "matched",
                                       run=run._replace(method="sft_matched"))
    for trainer in (sft, matched):
        args = trainer.args
        assert (args.weight_decay, args.max_grad_norm, args.neftune_noise_alpha) == (0.01, 0.5, 5.0)
        assert args.lr_scheduler_type == "cosine_with_min_lr"
        assert args.lr_scheduler_kwargs == {"min_lr_rate": 0.1} and args.optim == "adafactor"
        assert args.label_names == ["labels"]  # a list again, as TRL takes it
        # The workflow's own settings are still its own.
        assert args.completion_only_loss and not args.packing and args.seed == 0
    assert sft.args.run_name == "tiny/provider_triage/seed3/sft"
    assert matched.args.run_name == "tiny/provider_triage/seed3/sft_matched"
    assert matched.args.max_steps == 2
    assert sft.model.peft_config["default"].use_rslora
    dpo, _ = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, first_wrong_label_pairs(items),
                               settings, seed=0, device="cpu", out_dir=tmp_path / "dpo",
                               run=run._replace(method="dpo"))
    assert (dpo.args.weight_decay, dpo.args.max_grad_norm) == (0.02, 0.25)
    assert dpo.args.run_name == "tiny/provider_triage/seed3/dpo" and dpo.args.report_to == []


def test_a_training_run_is_named_by_model_task_seed_method_and_candidate():
    wildcards = SimpleNamespace(model="tiny", task="provider_triage", seed="3")
    run = TrainingRun.of(wildcards, "dpo")
    assert run.name == "tiny/provider_triage/seed3/dpo"
    candidate = TrainingRun.of(SimpleNamespace(**vars(wildcards), candidate="beta0.1_lr5e-05"),
                               "dpo")
    assert candidate.name == "tiny/provider_triage/seed3/dpo/beta0.1_lr5e-05"
    assert candidate.tags() == {"model": "tiny", "task": "provider_triage", "seed": "3",
                                "method": "dpo", "candidate": "beta0.1_lr5e-05"}


def test_trackers_stay_offline_unless_the_environment_says_otherwise():
    environ = {}
    keep_trackers_offline(environ)
    assert environ == {"MLFLOW_DISABLE_TELEMETRY": "true", "WANDB_MODE": "offline"}
    environ = {"WANDB_MODE": "online"}
    keep_trackers_offline(environ)
    assert environ["WANDB_MODE"] == "online"
