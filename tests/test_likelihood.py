"""Evaluation by answer likelihood: records, metric names, paired tests, the schema's modes."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sftdpo.metrics import EVALUATION_MODES, evaluated, method_metrics, metrics_of
from sftdpo.scoring import candidate_logprobs, most_likely, score_generations
from sftdpo.stats import compare_methods
from sftdpo.tasks import BUILTIN_TASKS

TASK = BUILTIN_TASKS["urgency_triage"]
SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def items(n=6):
    return TASK.build_items(n, 0)


def logprobs_for(answer):
    """Log-probabilities that make ``answer`` the most likely label."""
    return {label: (-1.0 if label == answer else -5.0) for label in TASK.labels}


def test_the_schema_offers_exactly_the_evaluation_modes():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert tuple(schema["properties"]["evaluation"]["properties"]["mode"]["enum"]) == \
        EVALUATION_MODES


def test_metric_names_by_mode():
    label = ("macro_f1", "accuracy")
    assert evaluated(label, "label", "generate") == label
    assert evaluated(label, "label", "likelihood") == ("likelihood_macro_f1",
                                                       "likelihood_accuracy")
    assert evaluated(label, "label", "both") == label + ("likelihood_macro_f1",
                                                         "likelihood_accuracy")
    # Summaries always generate; no parse-failure rate is reported for likelihood answers.
    assert evaluated(("likert",), "summary", "likelihood") == ("likert",)
    assert metrics_of("choice", [], "likelihood") == ("likelihood_accuracy",)


def test_likelihood_only_records_take_the_most_likely_label():
    test = items()
    generations = [{"id": i["id"], "logprobs": logprobs_for(TASK.labels[0])} for i in test]
    records = score_generations(TASK, test, generations)
    for item, record in zip(test, records, strict=True):
        assert record["parsed"] == record["likelihood"]["parsed"] == TASK.labels[0]
        assert record["prediction"] == TASK.labels[0]
        assert record["score"] == record["likelihood"]["score"] == int(
            TASK.gold(item) == TASK.labels[0])
        assert record["likelihood"]["logprobs"] == logprobs_for(TASK.labels[0])


def test_both_modes_keep_the_generated_answer_on_top():
    test = items()
    generations = [{"id": i["id"], "prediction": "no idea",
                    "logprobs": logprobs_for(TASK.gold(i))} for i in test]
    records = score_generations(TASK, test, generations)
    assert all(r["parsed"] is None and r["score"] == 0 for r in records)
    assert all(r["likelihood"]["score"] == 1 for r in records)
    metrics = method_metrics(records, metrics_of("label", records, "both"), TASK.labels,
                             n_resamples=50)
    assert metrics["accuracy"] == 0 and metrics["parse_failure_rate"] == 1
    assert metrics["likelihood_accuracy"] == 1 and metrics["likelihood_macro_f1"] == 1
    assert "likelihood_parse_failure_rate" not in metrics


def test_a_tie_goes_to_the_first_listed_candidate():
    assert most_likely({"b": -1.0, "a": -1.0, "c": -2.0}) == "b"


def test_likelihood_metrics_are_compared_on_the_likelihood_answers():
    """The paired tests of likelihood_accuracy are those of accuracy on likelihood answers."""
    test = items(12)
    wrong = {i["id"]: next(x for x in TASK.labels if x != TASK.gold(i)) for i in test}
    by_method = {}
    for method, right_every in (("base", 4), ("sft", 2), ("dpo", 1)):
        answers = [TASK.gold(i) if k % right_every == 0 else wrong[i["id"]]
                   for k, i in enumerate(test)]
        by_method[method] = score_generations(TASK, test, [
            {"id": i["id"], "prediction": "none", "logprobs": logprobs_for(a)}
            for i, a in zip(test, answers, strict=True)])
    table = compare_methods({0: by_method}, ["accuracy", "likelihood_accuracy"], TASK.labels,
                            n_resamples=100)
    ranked = table[table["metric"] == "likelihood_accuracy"].set_index("comparison")
    assert ranked.loc["sft_vs_dpo", "a"] == pytest.approx(6 / 12)
    assert ranked.loc["sft_vs_dpo", "b"] == pytest.approx(12 / 12)
    # As computed directly: every record's likelihood answer put on top.
    views = {m: [{**r, **{k: r["likelihood"][k] for k in ("parsed", "score")}} for r in rs]
             for m, rs in by_method.items()}
    direct = compare_methods({0: views}, ["accuracy"], TASK.labels, n_resamples=100)
    assert list(ranked["p_value"]) == list(direct.set_index("comparison")["p_value"])
    generated = table[table["metric"] == "accuracy"]
    assert (generated["a"] == 0).all() and (generated["p_value"] == 1).all()


def test_candidate_logprobs_need_two_candidates(tiny_model_dir):
    from sftdpo.modeling import load_tokenizer
    from sftdpo.tasks.choice import ChoiceTask
    from sftdpo.userdata import DataError

    task = ChoiceTask(name="free", family="clinical_reasoning", description="",
                      instruction="Answer.")
    item = {"id": "q1", "text": "A case.", "label": "sepsis"}
    with pytest.raises(DataError, match="evaluation.mode: generate"):
        candidate_logprobs(None, load_tokenizer(tiny_model_dir), task, [item], 1)


def test_the_score_job_imports_no_torch():
    """Scoring reads answers and computes metrics: its job script's imports leave torch out
    (about a second of each of the 18 score jobs' start)."""
    script = (Path(__file__).resolve().parents[1] / "workflow/scripts/score.py").read_text()
    imports = "\n".join(line for line in script.splitlines() if line.startswith("from "))
    code = f"import sys\n{imports}\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
