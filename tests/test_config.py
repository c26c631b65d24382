import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sftdpo.config import ConfigError, check_config, check_yaml_keys, task_model_spec
from sftdpo.passthrough import _workflow_keys
from sftdpo.trainer_config import WORKFLOW_KEYS

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def default_config() -> dict:
    """The default experiment, with its (inherited) training sections present to edit."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    return {"sft": {}, "dpo": {}} | config


def resolved(config: dict) -> dict:
    """``config`` with the schema's defaults filled in, as the workflow sees it."""
    from snakemake.utils import validate

    validate(config, str(SCHEMA))
    return config


def test_a_partial_section_takes_the_rest_from_the_recommended_defaults():
    config = resolved({"models": {"m": {"source": "embedded"}}, "tasks": {"provider_triage": {}},
                       "sft": {"epochs": 3}, "dpo": {"beta": 0.1}})
    assert config["sft"] | {"epochs": 2} == resolved(
        {"models": {"m": {"source": "embedded"}}, "tasks": {"provider_triage": {}}})["sft"]
    assert (config["sft"]["epochs"], config["sft"]["learning_rate"],
            config["sft"]["warmup_steps"]) == (3, 2.0e-3, 5)
    assert (config["dpo"]["epochs"], config["dpo"]["learning_rate"], config["dpo"]["beta"],
            config["dpo"]["warmup_steps"]) == (1, 2.0e-4, 0.1, 0)
    assert (config["context_length"], config["evaluation"]["mode"]) == (640, "likelihood")


def test_the_default_experiment_sets_sizes_and_inherits_the_method_settings():
    """One set of defaults: what config/config.yaml runs is what every config gets."""
    shipped = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert not {"sft", "dpo", "evaluation", "context_length", "generation"} & set(shipped)
    assert set(shipped["lora"]) == {"top_layers"}


@pytest.mark.parametrize(
    "name", ["config.yaml", "full.yaml", "paper.yaml", "examples/own_data.yaml"])
def test_shipped_configs_are_valid(name):
    check_config(yaml.safe_load((REPO / "config" / name).read_text()), SCHEMA)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # A key that is neither the workflow's nor a field of TRL's config: the nearest named.
        (lambda c: c["sft"].update(learning_rat=1e-4),
         "sft.learning_rat: not a key of the workflow's nor a field of TRL's SFTConfig; "
         "allowed: the nearest learning_rate, or another key"),
        (lambda c: c["dpo"].update(learning_rat=1e-4),
         "dpo.learning_rat: not a key of the workflow's nor a field of TRL's DPOConfig; "
         "allowed: the nearest learning_rate"),
        (lambda c: c["sft"].update(weight_decy=0.01),
         "sft.weight_decy: not a key of the workflow's nor a field of TRL's SFTConfig; "
         "allowed: the nearest weight_decay"),
        (lambda c: c["lora"].update(use_rsloa=True),
         "lora.use_rsloa: not a key of the workflow's nor a field of PEFT's LoraConfig; "
         "allowed: the nearest use_rslora"),
        # None near: the section's own keys and the shared stage's, then TRL's fields.
        (lambda c: c["sft"].update(zzz=1),
         "sft.zzz: not a key of the workflow's nor a field of TRL's SFTConfig; allowed: epochs, "
         "learning_rate, batch_size, gradient_accumulation_steps, lr_scheduler, warmup_steps, "
         "gradient_checkpointing, mixed_precision, share_prompt, group_by_length, processes, "
         "accelerate_config, validation_loss, "),
        (lambda c: c["dpo"].update(zzz=1), "reference_from_pairs, "),
        # What the workflow sets itself is refused, naming what decides it.
        (lambda c: c["sft"].update(output_dir="out"),
         "sft.output_dir: set by the workflow: the adapter is written to results/adapters/"),
        (lambda c: c["dpo"].update(seed=1),
         "dpo.seed: set by the workflow: the training seed is one of seeds: (default [seed]); "
         "allowed: leave it out"),
        (lambda c: c["sft"].update(max_length=2048),
         "sft.max_length: set by the workflow: context_length sets it"),
        (lambda c: c["sft"].update(save_strategy="epoch"), "sft.save_strategy: set by the work"),
        (lambda c: c["dpo"].update(num_train_epochs=2),
         "dpo.num_train_epochs: the workflow sets TRL's DPOConfig's num_train_epochs from "
         "dpo.epochs; allowed: epochs"),
        (lambda c: c["lora"].update(lora_alpha=8),
         "lora.lora_alpha: the workflow sets PEFT's LoraConfig's lora_alpha from lora.alpha; "
         "allowed: alpha"),
        (lambda c: c["lora"].update(task_type="SEQ_CLS"), "lora.task_type: set by the workflow"),
        # Values: plain types here, the rest by TRL and PEFT building their configs.
        (lambda c: c["sft"].update(yaml.safe_load("weight_decay: 1e-2")),
         "sft.weight_decay: '1e-2' is not of type float; write 1.0e-2: YAML reads 1e-2 without "
         "a decimal point as text"),
        (lambda c: c["lora"].update(use_dora="yes"), "lora.use_dora: 'yes' is not of type bool"),
        (lambda c: c["sft"].update(lr_scheduler="cosine_min"),
         "sft: TRL's SFTConfig refuses these settings (lr_scheduler): cosine_min is not a "
         "valid SchedulerType"),
        (lambda c: c["dpo"].update(optim="adamw_foo"),
         "dpo: TRL's DPOConfig refuses these settings (optim): adamw_foo is not a valid "
         "OptimizerNames"),
        (lambda c: c["lora"].update(use_dora=True, lora_bias=True),
         "lora: PEFT's LoraConfig refuses these settings (top_layers, use_dora, lora_bias): "
         "The argument lora_bias=True is not supported for "
         "DoRA"),
        (lambda c: c["sft"].update(report_to="all"),
         "sft.report_to: all would report to every tracker installed"),
        (lambda c: c["dpo"].update(report_to=["tensorbord"]),
         "dpo.report_to: tensorbord is not supported, only azure_ml"),
        (lambda c: c["models"]["smollm2-135m"].update(dtype="fp8"),
         "models.smollm2-135m.dtype: 'fp8' is not one of"),
        (lambda c: c["models"].update(llama={"source": "hub"}),
         "models.llama: 'hub_id' is a required property"),
        (lambda c: c["tasks"].update(triage={}),
         "tasks.triage: not a built-in task and no data: given; built-in tasks: provider_triage"),
        (lambda c: c["tasks"].update(triage={"builtin": "provider_triag"}),
         "tasks.triage.builtin: 'provider_triag' is not a built-in task; allowed: "
         "provider_triage, urgency_triage"),
        (lambda c: c["tasks"]["radiology_finding"]["generator"].update(hard=0.5),
         "tasks.radiology_finding.generator.hard: not a setting of this task's generator; "
         "allowed: hard_share, typo_rate"),
        (lambda c: c.update(judge={"model": "gpt"}),
         "judge.model: 'gpt' is not a model of this config; allowed: smollm2-135m"),
        (lambda c: c["tasks"].update(mine={"data": {"path": "x.csv"}}),
         "tasks.mine: 'family' is a required property"),
        (lambda c: c["tasks"].update(mine={"data": {"path": "x.csv"}, "family": "triage",
                                           "n_items": 50}),
         "tasks.mine.n_items: only built-in tasks take n_items"),
        (lambda c: c["tasks"]["hospital_course_summary"].update(
            pairs={"strategy": "hardest_wrong_label"}),
         "tasks.hospital_course_summary.pairs.strategy: hardest_wrong_label does not suit a "
         "summary task; allowed: sft_wrong_answers, degraded_summary, user_pairs"),
        (lambda c: c["tasks"].update(mine={"data": {"path": "x.csv", "hub_id": "a/b"},
                                           "family": "triage"}),
         "tasks.mine.data: {'path': 'x.csv', 'hub_id': 'a/b'} is valid under each of"),
        (lambda c: c["dpo"].update(beta=0), "dpo.beta: 0 is less than or equal to the minimum"),
        (lambda c: c["lora"].update(top_layers=4, target_modules="all-linear"),
         "lora.target_modules: 'all-linear' is not of type 'array'"),
        (lambda c: c.update(seed=1.5), "seed: 1.5 is not of type 'integer'"),
        (lambda c: c.update(seed=7.0),
         "seed: 7.0 is written as a decimal number; allowed: a whole number without a "
         "decimal point (7)"),
        (lambda c: c.update(seed=-1), "seed: -1 is less than the minimum of 0"),
        (lambda c: c.update(seed=2**32), "seed: 4294967296 is greater than the maximum"),
        (lambda c: c.update(seeds=[0, 2**32]), "seeds.1: 4294967296 is greater than the maximum"),
        (lambda c: c["tasks"]["provider_triage"].update(n_items=50.0),
         "tasks.provider_triage.n_items: 50.0 is written as a decimal number"),
        (lambda c: c["sft"].update(batch_size=8.0), "sft.batch_size: 8.0 is written as a decimal"),
        (lambda c: c.update(split={"validation": 0.4, "test": 0.6}),
         "split: validation 0.4 + test 0.6 = 1 leaves no items to train on; allowed: "
         "validation + test below 1"),
        (lambda c: c.update(split={"validation": 0.001, "test": 0.3}),
         "tasks.urgency_triage.n_items: 350 items are too few for split.validation 0.001 and "
         "split.test 0.3: the splits would get train 245, validation 0, test 105, and each "
         "needs 2 items (one per class); allowed: at least 1500 items"),
        (lambda c: c["tasks"]["provider_triage"].update(n_items=20),
         "tasks.provider_triage.n_items: 20 items are too few"),
        (lambda c: c["tasks"]["provider_triage"].update(attention="flash_attention_2"),
         "tasks.provider_triage.attention: 'flash_attention_2' is not one of ['sdpa', 'eager']"),
        (lambda c: c["dpo"].update(loss_type=["sigmoid", "sft"], loss_weights=[1.0]),
         "dpo.loss_weights: 1 weight(s) for 2 loss_type term(s) (sigmoid, sft); allowed: one "
         "weight per loss_type term"),
        (lambda c: c["tasks"]["provider_triage"].update(primary_metric="macro_f1"),
         "tasks.provider_triage.primary_metric: 'macro_f1' is not a metric this task reports; "
         "allowed: likelihood_macro_f1, likelihood_accuracy"),
        (lambda c: c["tasks"]["provider_triage"].update(margin=0),
         "tasks.provider_triage.margin: 0 is less than or equal to the minimum of 0"),
        (lambda c: c.update(decision={"margins": {"f1": 0.1}}),
         "decision.margins.f1: not a metric a task is decided on; allowed: accuracy, "
         "judge_likert, likert, macro_f1, rouge_l"),
        (lambda c: c.update(decision={"alpha": 0.6}),
         "decision.alpha: 0.6 is greater than the maximum of 0.5"),
        # A key only a task over the user's data reads is refused on a built-in task, not
        # ignored; the keys a built-in task takes are listed.
        (lambda c: c["tasks"]["radiology_finding"].update(family="summarization"),
         "tasks.radiology_finding.family: only a task with data: takes family; built-in task "
         "'radiology_finding' has its own family (it would be ignored); allowed: builtin, "
         "n_items, generator, instruction, max_new_tokens, attention"),
        (lambda c: c["tasks"].update(triage={"builtin": "provider_triage", "description": "x"}),
         "tasks.triage.description: only a task with data: takes description; built-in task "
         "'provider_triage' has its own description"),
        # YAML 1.1 reads 1e-3 (no decimal point) and 1.0e3 (no sign in the exponent) as text.
        (lambda c: c["sft"].update(yaml.safe_load("learning_rate: 1e-3")),
         "sft.learning_rate: '1e-3' is not of type 'number'; write 1.0e-3: YAML reads 1e-3 "
         "without a decimal point as text; allowed: type number"),
        (lambda c: c["dpo"].update(yaml.safe_load("learning_rate: [1.0e-6, 1e-5]")),
         "dpo.learning_rate.1: '1e-5' is not of type 'number'; write 1.0e-5: YAML reads"),
        (lambda c: c["dpo"].update(yaml.safe_load("beta: 1.0e1")),
         "dpo.beta: '1.0e1' is not of type 'number'; write 1.0e+1: YAML reads 1.0e1 without a "
         "sign in its exponent as text"),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(change, expected):
    config = default_config()
    change(config)
    with pytest.raises(ConfigError) as raised:
        check_config(config, SCHEMA, source="my.yaml")
    assert str(raised.value).startswith("my.yaml is not a valid experiment config:")
    assert expected in str(raised.value)


def test_a_tasks_attention_replaces_the_models_for_its_jobs_only():
    config = default_config()
    model = config["models"]["smollm2-135m"]
    tasks = config["tasks"]
    assert model["attention"] == "eager"
    assert tasks["hospital_course_summary"]["attention"] == "sdpa"
    summary = task_model_spec(model, tasks["hospital_course_summary"])
    assert summary == model | {"attention": "sdpa"}
    assert model["attention"] == "eager"  # the model's entry is not changed
    assert task_model_spec(model, tasks["provider_triage"]) is model
    assert task_model_spec(model, None) is model  # a job of no task (the model job)


def test_every_problem_is_listed_at_once():
    config = default_config()
    config["lora"]["rank"] = 8
    config["split"]["test"] = 2
    with pytest.raises(ConfigError) as raised:
        check_config(config, SCHEMA)
    assert "lora.rank: not a key of the workflow's nor a field of PEFT's LoraConfig" \
        in str(raised.value)
    assert "split.test: 2 is greater than the maximum of 0.6" in str(raised.value)


def test_trl_and_peft_fields_pass_the_check():
    """Any field of SFTConfig, DPOConfig and LoraConfig is a key of its section; a list of
    learning rates to tune over is checked by its first candidate."""
    config = default_config()
    config["sft"].update(weight_decay=0.01, max_grad_norm=0.5, optim="adafactor",
                         lr_scheduler="cosine_with_min_lr", learning_rate=[1.0e-3, 2.0e-3],
                         lr_scheduler_kwargs={"min_lr_rate": 0.1}, neftune_noise_alpha=5.0,
                         gradient_checkpointing_kwargs={"use_reentrant": False},
                         label_names=["labels"])
    config["dpo"].update(weight_decay=0.01, max_grad_norm=1.0, report_to="none")
    config["lora"].update(use_rslora=True, use_dora=True, bias="none")
    check_config(config, SCHEMA)


def test_tf32_is_left_to_the_machine_the_job_runs_on():
    """tf32 needs an Ampere GPU: the planning machine (here a CPU) does not refuse it."""
    config = default_config()
    config["sft"]["tf32"] = True
    check_config(config, SCHEMA)


def test_the_workflows_keys_are_the_schemas():
    """sftdpo.trainer_config passes every other key of a section on to TRL or PEFT."""
    schema = yaml.safe_load(SCHEMA.read_text())
    assert _workflow_keys(schema) == {name: list(keys) for name, keys in WORKFLOW_KEYS.items()}


def test_a_config_without_trl_fields_is_planned_without_importing_trl():
    """The shipped configs set no TRL or PEFT field: planning them imports neither (6 CPU
    seconds)."""
    code = ("import sys, yaml; from sftdpo.config import check_config; "
            f"check_config(yaml.safe_load(open({str(REPO / 'config/config.yaml')!r})), "
            f"{str(SCHEMA)!r}); "
            "print(sorted({'trl', 'peft', 'transformers', 'torch'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_snakemake_refuses_a_bad_config_before_running_anything(tmp_path):
    config = default_config()
    config["generation"] = {"max_new_token": 4}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "bad.yaml"), "-n"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "generation: Additional properties are not allowed ('max_new_token' was unexpected)" \
        in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_a_key_given_twice_names_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("models:\n  m: {source: embedded}\ntasks:\n  provider_triage:\n"
                    "    n_items: 60\n  urgency_triage: {}\n  provider_triage:\n"
                    "    n_items: 80\n")
    with pytest.raises(ConfigError) as raised:
        check_yaml_keys(path)
    assert str(raised.value).startswith(f"{path}, lines 4 and 7: key 'provider_triage' is "
                                        "given twice")
    check_yaml_keys(REPO / "config" / "paper.yaml")  # the shipped configs are fine
    merged = tmp_path / "merge.yaml"  # a key beside a merge overrides it: not a repeat
    merged.write_text("base: &b {lr: 1, epochs: 2}\nsft:\n  <<: *b\n  lr: 3\n")
    check_yaml_keys(merged)
    merged.write_text("base: &b {lr: 1}\nsft:\n  <<: *b\n  lr: 3\n  lr: 4\n")
    with pytest.raises(ConfigError, match="lines 4 and 5: key 'lr'"):
        check_yaml_keys(merged)


def snakemake_dry_run(tmp_path, config_text: str) -> subprocess.CompletedProcess:
    (tmp_path / "c.yaml").write_text(config_text)
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"), "-n"],
        capture_output=True, text=True, timeout=120,
    )


def test_snakemake_refuses_a_misspelled_trl_field_before_any_job(tmp_path):
    config = default_config()
    config["sft"]["weight_decy"] = 0.01
    config["dpo"]["output_dir"] = "elsewhere"
    result = snakemake_dry_run(tmp_path, yaml.safe_dump(config))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "sft.weight_decy: not a key of the workflow's nor a field of TRL's SFTConfig; " \
        "allowed: the nearest weight_decay" in output
    assert "dpo.output_dir: set by the workflow" in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()


def test_snakemake_refuses_duplicate_keys_and_bad_data_before_any_job(tmp_path):
    result = snakemake_dry_run(tmp_path, "models:\n  m: {source: embedded}\n"
                               "  m: {source: embedded}\ntasks: {provider_triage: {}}\n")
    assert result.returncode != 0
    assert "c.yaml, lines 2 and 3: key 'm' is given twice" in result.stdout + result.stderr
    (tmp_path / "r.csv").write_text("text,label\na,yes\nb,no\nc,None\n")
    result = snakemake_dry_run(tmp_path, "models:\n  m: {source: embedded}\ntasks:\n  r:\n"
                               "    family: triage\n    data: {path: r.csv}\n")
    assert result.returncode != 0
    assert ("r.csv, data row 3 (line 4), field 'label' (column 'label'): missing value "
            "('None')") in result.stdout + result.stderr
    result = snakemake_dry_run(tmp_path, "models:\n  m: {source: local, path: weights}\n"
                               "tasks: {provider_triage: {}}\n")
    assert result.returncode != 0
    assert "models.m.path: weights holds no config.json" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_a_judge_of_its_own_is_materialised_and_asked_never_tuned(tmp_path, tiny_model_dir):
    """judge.model given as a model (a larger one, here the tiny model's folder) is planned
    as the model 'judge': materialised and asked for every summary, with no SFT or DPO."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "models": {"m": {"source": "embedded"}},
        "tasks": {"hospital_course_summary": {"n_items": 40}},
        "judge": {"model": {"source": "local", "path": str(tiny_model_dir)}}}))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"), "-n",
         "--", "all"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    plan = result.stdout
    assert "output: resources/models/judge" in plan
    assert "results/judge/m/hospital_course_summary/seed0/dpo.jsonl" in plan
    assert "results/adapters/judge" not in plan


MODEL = "models.smollm2-135m"
BNB = "transformers' BitsAndBytesConfig"


def with_bitsandbytes(section: dict, quantization: str = "nf4") -> dict:
    config = default_config()
    config["models"]["smollm2-135m"].update(quantization=quantization, bitsandbytes=section)
    return config


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"bnb_4bit_use_doble_quant": False},
         f"{MODEL}.bitsandbytes.bnb_4bit_use_doble_quant: not a field of {BNB}; allowed: the "
         "nearest bnb_4bit_use_double_quant"),
        # What the entry's own keys decide, and what 4-bit loading ignores, are refused.
        ({"bnb_4bit_quant_type": "fp4"},
         f"{MODEL}.bitsandbytes.bnb_4bit_quant_type: the workflow sets {BNB}'s "
         f"bnb_4bit_quant_type from {MODEL}.quantization; allowed: quantization"),
        ({"bnb_4bit_compute_dtype": "float16"},
         f"{MODEL}.bitsandbytes.bnb_4bit_compute_dtype: the workflow sets {BNB}'s "
         f"bnb_4bit_compute_dtype from {MODEL}.dtype; allowed: dtype"),
        ({"load_in_8bit": True}, f"{MODEL}.bitsandbytes.load_in_8bit: the workflow sets"),
        ({"llm_int8_threshold": 5.0},
         f"{MODEL}.bitsandbytes.llm_int8_threshold: set by the workflow: it applies to 8-bit "
         "loading only, and quantization: nf4 loads in 4 bits; allowed: leave it out"),
        # Values: transformers builds the config and says what is wrong.
        ({"bnb_4bit_use_double_quant": "yes"},
         f"{MODEL}.bitsandbytes: {BNB} refuses these settings (bnb_4bit_use_double_quant): "
         "bnb_4bit_use_double_quant must be a boolean"),
        ({"bnb_4bit_quant_storage": "int4"},
         f"{MODEL}.bitsandbytes: {BNB} refuses these settings (bnb_4bit_quant_storage): "
         "`bnb_4bit_quant_storage` must be a valid string"),
    ],
)
def test_a_models_bitsandbytes_fields_are_checked_while_planning(section, expected):
    with pytest.raises(ConfigError) as raised:
        check_config(with_bitsandbytes(section), SCHEMA)
    assert expected in str(raised.value)


def test_bitsandbytes_fields_on_an_unquantised_model_are_refused():
    with pytest.raises(ConfigError) as raised:
        check_config(with_bitsandbytes({"bnb_4bit_use_double_quant": False}, "none"), SCHEMA)
    assert (f"{MODEL}.bitsandbytes: the model loads unquantised (quantization: none), where "
            "these fields would change nothing; allowed: quantization: nf4, or leave "
            "bitsandbytes out") in str(raised.value)


def test_a_judges_own_model_has_its_bitsandbytes_fields_checked():
    config = default_config()
    config["judge"] = {"model": {"source": "embedded", "quantization": "nf4",
                                 "bitsandbytes": {"bnb_4bit_quant_storag": "uint8"}}}
    with pytest.raises(ConfigError) as raised:
        check_config(config, SCHEMA)
    assert ("judge.model.bitsandbytes.bnb_4bit_quant_storag: not a field of "
            f"{BNB}; allowed: the nearest bnb_4bit_quant_storage") in str(raised.value)


def test_bitsandbytes_fields_reach_the_config_the_jobs_load_with():
    """A field passes the check and goes to BitsAndBytesConfig as it is; what the workflow
    decides stays its own (tests/test_qlora.py loads a model so)."""
    import torch

    from sftdpo.modeling import compute_dtype, quantization_config

    section = {"bnb_4bit_use_double_quant": False, "bnb_4bit_quant_storage": "bfloat16",
               "llm_int8_skip_modules": ["down_proj", "lm_head"]}
    config = with_bitsandbytes(section)
    check_config(config, SCHEMA)
    built = quantization_config(config["models"]["smollm2-135m"])
    assert (built.load_in_4bit, built.bnb_4bit_quant_type) == (True, "nf4")
    assert built.bnb_4bit_compute_dtype == compute_dtype("bfloat16", "cpu")
    assert not built.bnb_4bit_use_double_quant
    assert built.bnb_4bit_quant_storage == torch.bfloat16
    assert built.llm_int8_skip_modules == ["down_proj", "lm_head"]
    # Without the section: NF4 with double quantisation, as before.
    assert quantization_config({"dtype": "bfloat16", "quantization": "nf4"}
                               ).bnb_4bit_use_double_quant
