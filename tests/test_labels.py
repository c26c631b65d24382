"""The one label rule (sftdpo.labels), as the data, the pairs and the parser apply it."""

import json
import unicodedata

import pytest

from sftdpo.labels import Missing, canonical, kept_spellings, look_alikes
from sftdpo.tasks.base import LabelTask
from sftdpo.userdata import DataError, load_user_items


def load(tmp_path, name, content, **spec):
    (tmp_path / name).write_text(content, encoding="utf-8")
    return load_user_items({"path": name, **spec}, "triage", base_dir=tmp_path)


def refused(tmp_path, name, content, **spec) -> DataError:
    with pytest.raises(DataError) as caught:
        load(tmp_path, name, content, **spec)
    assert str(caught.value).startswith(name) and "expected" in str(caught.value)
    return caught.value


@pytest.mark.parametrize("value", ["1", "1.0", " 1.00 ", "01", "+1", "1e0", 1, 1.0])
def test_numbers_that_are_the_same_number_are_one_label(value):
    assert canonical(value) == "1"


@pytest.mark.parametrize(("value", "label"), [
    ("0.50", "0.5"), (0.25, "0.25"), ("-2.0", "-2"), (True, "true"), ("  Yes ", "Yes"),
    ("1.5e1", "15"), ("3 mg", "3 mg"), ("A1", "A1")])
def test_canonical_forms(value, label):
    assert canonical(value) == label


def test_labels_are_nfc():
    decomposed = unicodedata.normalize("NFD", "préoccupant")
    assert decomposed != "préoccupant" and canonical(decomposed) == "préoccupant"


@pytest.mark.parametrize("value", [None, "", "  ", "NaN", "nan", "None", "N/A", "n/a", "NA",
                                   "null", "#N/A", "Infinity", "-inf", float("nan"),
                                   float("inf")])
def test_missing_markers_are_missing(value):
    with pytest.raises(Missing):
        canonical(value)


def test_spelling_kept_is_the_one_most_rows_use_first_on_a_tie():
    assert kept_spellings(["Yes", "yes", "yes", "YES", "no"]) == {
        "Yes": "yes", "yes": "yes", "YES": "yes", "no": "no"}
    assert kept_spellings(["Urgent", "urgent"])["urgent"] == "Urgent"


def test_look_alikes_differ_by_spacing_or_punctuation_only():
    assert look_alikes(["non-urgent", "non urgent", "urgent", "Non_Urgent"]) == [
        ["Non_Urgent", "non urgent", "non-urgent"]]
    assert look_alikes(["acute", "non-acute"]) == []


# ---------------------------------------------------------------------------- in user data


def test_case_variants_are_one_class(tmp_path):
    data = load(tmp_path, "n.csv", "text,label\na,Yes\nb,yes\nc,YES\nd,yes\ne,no\nf,No\n")
    assert data.labels == ("no", "yes")
    assert [item["label"] for item in data.items] == ["yes"] * 4 + ["no"] * 2


def test_csv_1_and_1_0_are_one_class(tmp_path):
    data = load(tmp_path, "n.csv", "text,label\na,1\nb,1.0\nc,0\nd,0.0\ne,01\n")
    assert data.labels == ("0", "1")
    assert [item["label"] for item in data.items] == ["1", "1", "0", "0", "1"]


def test_json_numbers_and_strings_of_one_number_are_one_class(tmp_path):
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": 1.0}, {"text": "c", "label": "1"},
            {"text": "d", "label": 2}]
    data = load(tmp_path, "n.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert data.labels == ("1", "2")


@pytest.mark.parametrize("marker", ["NaN", "None", "N/A", "null", "NA"])
def test_a_missing_marker_label_names_the_row(tmp_path, marker):
    error = refused(tmp_path, "n.csv", f"text,label\na,x\nb,{marker}\nc,y\n")
    assert error.row == 2 and error.field == "label"
    assert "data row 2 (line 3)" in str(error) and f"missing value ('{marker}')" in str(error)


@pytest.mark.parametrize(("raw", "shown"), [("null", "null"), ("NaN", "nan"),
                                             ("Infinity", "inf"), ("-Infinity", "-inf")])
def test_json_null_nan_and_infinity_labels_are_missing(tmp_path, raw, shown):
    content = '{"text": "a", "label": "x"}\n{"text": "b", "label": ' + raw + "}\n"
    error = refused(tmp_path, "n.jsonl", content)
    assert error.row == 2 and f"missing value ({shown})" in str(error)


def test_declared_labels_absorb_case_and_number_spellings(tmp_path):
    data = load(tmp_path, "n.csv", "text,label\na,POSITIVE\nb,negative\nc,1.0\n",
                labels=["positive", "negative", "1"])
    assert [item["label"] for item in data.items] == ["positive", "negative", "1"]


def test_declared_labels_that_differ_by_case_make_case_count(tmp_path):
    spec = {"labels": ["A", "a", "b"]}
    data = load(tmp_path, "n.csv", "text,label\nx,A\ny,a\nz,b\n", **spec)
    assert [item["label"] for item in data.items] == ["A", "a", "b"]
    error = refused(tmp_path, "m.csv", "text,label\nx,A\ny,B\n", **spec)
    assert error.row == 2 and "'B' is not declared" in str(error)


def test_inferred_look_alike_labels_are_listed_with_how_to_declare(tmp_path):
    error = refused(tmp_path, "n.csv",
                    "text,label\na,non-urgent\nb,urgent\nc,non urgent\nd,non-urgent\n")
    message = str(error)
    assert "'non urgent' (data row 3 (line 4))" in message
    assert "'non-urgent' (data row 1 (line 2), data row 4 (line 5))" in message
    assert "data.labels: [...]" in message


def test_declared_labels_equal_under_the_rule_are_declared_twice(tmp_path):
    error = refused(tmp_path, "n.csv", "text,label\na,1\nb,2\n", labels=["1", "1.0", "2"])
    assert error.field == "data.labels" and "'1' is declared twice ('1.0' is '1')" in str(error)
    error = refused(tmp_path, "n.csv", "text,label\na,1\nb,2\n", labels=["x", "N/A"])
    assert "marks a missing value" in str(error)


def test_a_chosen_answer_that_names_a_label_becomes_that_label(tmp_path):
    data = load(tmp_path, "p.csv", "text,label,chosen,rejected\na,yes,YES,No\nb,no,No.,1\n",
                labels=["yes", "no"])
    assert (data.items[0]["chosen"], data.items[0]["rejected"]) == ("yes", "no")
    assert (data.items[1]["chosen"], data.items[1]["rejected"]) == ("No.", "1")  # not labels
    error = refused(tmp_path, "q.csv", "text,label,chosen,rejected\na,yes,Yes,YES\nb,no,,\n",
                    labels=["yes", "no"])
    assert error.row == 1 and error.field == "rejected" and "same label as chosen" in str(error)


# ---------------------------------------------------------------------------- in the parser


def test_the_parser_reads_nfc_and_case_only_where_labels_differ_by_case():
    task = LabelTask("t", "triage", "d", ("préoccupant", "rassurant"), "i")
    assert task.parse(unicodedata.normalize("NFD", "Préoccupant.")) == "préoccupant"
    strict = LabelTask("t", "triage", "d", ("A", "a", "b"), "i")
    assert [strict.parse(text) for text in ("A", "a", "B")] == ["A", "a", None]


def test_merged_spellings_are_recorded(tmp_path):
    data = load(tmp_path, "n.csv",
                "text,label\na,Yes\nb,yes\nc,yes\nd,1\ne,1.0\nf,No\ng,no\nh,no\n")
    assert data.labels == ("1", "no", "yes")
    assert data.merged == {"1": ["1.0"], "no": ["No"], "yes": ["Yes"]}


# ---------------------------------------------------------------------------- numbers, names


def test_numbers_declared_as_numbers_match_the_data_by_the_rule(tmp_path):
    from pathlib import Path

    import yaml

    from sftdpo.config import check_config

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    config["tasks"]["mine"] = {"family": "triage", "data": {"path": "n.jsonl", "labels": [0, 1]}}
    check_config(config, repo / "workflow/schemas/config.schema.yaml")  # not "0 is not a string"
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": "1.0"}, {"text": "c", "label": 0.0},
            {"text": "d", "label": "01"}, {"text": "e", "label": "2.50"}]
    data = load(tmp_path, "n.jsonl", "".join(json.dumps(r) + "\n" for r in rows),
                labels=[1, 0, 2.5])
    assert data.labels == ("1", "0", "2.5")
    assert [item["label"] for item in data.items] == ["1", "1", "0", "1", "2.5"]
    error = refused(tmp_path, "m.csv", "text,label\na,1\nb,0\n", labels=[1, 1.0, 0])
    assert "'1' is declared twice ('1.0' is '1')" in str(error)


CODES = "text,label\n" + "".join(f"abstract {i},{i % 3 + 1}\n" for i in range(9))
NAMES = {1: "neoplasms", 2: "digestive system diseases", 3.0: "nervous system diseases"}


def named_task(tmp_path, **spec):
    from sftdpo.tasks import load_task

    data = load(tmp_path, "c.csv", CODES, label_names=NAMES, **spec)
    task = load_task("abstracts", {"family": "text_classification",
                                   "data": {"path": "c.csv", "label_names": NAMES}},
                     data.labels)
    return data, task


def test_label_names_are_what_the_model_sees_and_answers_codes_stay_in_the_data(tmp_path):
    data, task = named_task(tmp_path)
    assert data.labels == ("1", "2", "3") and data.items[0]["label"] == "1"
    prompt = task.prompt_messages(data.items[0])[-1]["content"]
    assert prompt.endswith("Answer with one of: neoplasms, digestive system diseases, "
                           "nervous system diseases.")
    assert task.completion(data.items[1]) == "digestive system diseases"
    assert task.answer_text(data.items[0], "3") == "nervous system diseases"
    assert task.candidates(data.items[0]) == ["1", "2", "3"]
    assert task.parse("Nervous system diseases.") == "3"
    assert task.parse("1. neoplasms\n2. digestive system diseases") == "1"
    assert task.parse("1. 1\n2. 2") is None  # a numbered list names no class


def test_metrics_of_a_named_label_task_are_on_the_codes(tmp_path):
    from sftdpo.metrics import method_metrics
    from sftdpo.scoring import score_generations

    data, task = named_task(tmp_path)
    answers = ["neoplasms", "Digestive system diseases", "neoplasms", "no idea"]
    records = score_generations(task, data.items[:4], [
        {"id": item["id"], "prediction": answer}
        for item, answer in zip(data.items, answers, strict=False)])
    assert [(r["reference"], r["parsed"], r["score"]) for r in records] == [
        ("1", "1", 1), ("2", "2", 1), ("3", "1", 0), ("1", None, 0)]
    result = method_metrics(records, ("accuracy", "macro_f1"), task.labels, n_resamples=10)
    assert result["accuracy"] == 0.5
    assert set(result["per_class"]) == {"1", "2", "3"}


def test_label_names_must_name_the_label_set(tmp_path):
    error = refused(tmp_path, "c.csv", CODES, label_names={1: "neoplasms", 2: "digestive",
                                                           4: "cardiovascular"})
    assert error.field == "data.label_names"
    assert "no name for label '3'" in str(error) and "'4' is not a label" in str(error)
    error = refused(tmp_path, "c.csv", CODES, labels=[1, 2, 3],
                    label_names={1: "neoplasms", 2: "digestive"})
    assert error.field == "data.label_names" and "no name for label '3'" in str(error)
    error = refused(tmp_path, "c.csv", CODES, label_names={1: "tumour", 2: "Tumour ", 3: "b"})
    assert "'tumour' names two labels ('1', '2')" in str(error)


def test_a_chosen_answer_naming_a_labels_name_is_that_name(tmp_path):
    content = "text,label,chosen,rejected\na,1,Neoplasms,2\nb,2,digestive,neoplasms\nc,3,,\n"
    data = load(tmp_path, "p.csv", content,
                label_names={1: "neoplasms", 2: "digestive", 3: "nervous"})
    assert (data.items[0]["chosen"], data.items[0]["rejected"]) == ("neoplasms", "digestive")
    assert (data.items[1]["chosen"], data.items[1]["rejected"]) == ("digestive", "neoplasms")
