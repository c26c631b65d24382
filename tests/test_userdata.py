import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from sftdpo.config import ConfigError, check_config
from sftdpo.userdata import DataError, UserData, load_user_items

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, name, content):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return name


def jsonl(rows):
    return "".join(json.dumps(row) + "\n" for row in rows)


def load(tmp_path, spec, family="triage"):
    return load_user_items(spec, family, base_dir=tmp_path)


def fails(tmp_path, spec, family="triage", *, row=None, field=None, says=()):
    """The DataError for ``spec``; its message names the file, the row and the field."""
    with pytest.raises(DataError) as caught:
        load(tmp_path, spec, family)
    error, message = caught.value, str(caught.value)
    source = spec.get("path") or spec.get("hub_id")
    assert message.startswith(f"{source}"), message
    assert error.source == source
    if row is not None:
        assert error.row == row, message
    if field is not None:
        assert error.field == field, message
        assert field in message, message
    assert "expected" in message, message
    for fragment in says:
        assert fragment in message, message
    return message


NOTES_CSV = (
    "note_id,note,finding\n"
    "n1,CXR: no focal consolidation.,absent\n"
    'n2,"RLL opacity, likely pneumonia.\nClinical correlation advised.",present\n'
    "n3,  Small left effusion.  ,present\n"
)


# ---------------------------------------------------------------------------- happy paths


def test_csv_items_are_normalised_with_rows_as_the_user_sees_them(tmp_path):
    write(tmp_path, "data/notes.csv", NOTES_CSV)
    data = load(tmp_path, {"path": "data/notes.csv",
                           "columns": {"id": "note_id", "text": "note", "label": "finding"}})
    assert isinstance(data, UserData)
    assert data.source == "data/notes.csv" and data.n_rows == 3
    assert data.labels == ("absent", "present")  # inferred, sorted
    assert [i["id"] for i in data.items] == ["n1", "n2", "n3"]
    assert data.items[1]["text"] == ("RLL opacity, likely pneumonia.\n"
                                     "Clinical correlation advised.")
    assert data.items[2] == {"id": "n3", "text": "Small left effusion.", "label": "present",
                             "source_row": 3, "source_where": "data row 3 (line 5)"}


def test_csv_without_id_column_numbers_rows_and_numbers_are_string_labels(tmp_path):
    write(tmp_path, "n.csv", "text,label\nfirst note,0\n\nsecond note,1\nthird,1\n")
    data = load(tmp_path, {"path": "n.csv"})  # default mapping: field name == column name
    assert [i["id"] for i in data.items] == ["row-1", "row-2", "row-3"]
    assert [i["label"] for i in data.items] == ["0", "1", "1"]
    assert data.labels == ("0", "1")


def test_declared_labels_keep_their_order(tmp_path):
    write(tmp_path, "n.csv", "text,label\na,present\nb,absent\n")
    data = load(tmp_path, {"path": "n.csv", "labels": ["present", "absent", "uncertain"]})
    assert data.labels == ("present", "absent", "uncertain")


def test_tsv_and_bom(tmp_path):
    content = "\ufefftext\tlabel\tsplit\nfever, cough\turgent\tTrain\nrefill\troutine\tdev\n"
    write(tmp_path, "m.tsv", content)
    data = load(tmp_path, {"path": "m.tsv"})
    assert [(i["text"], i["label"], i["split"]) for i in data.items] == [
        ("fever, cough", "urgent", "train"), ("refill", "routine", "validation")]


def test_jsonl_rows_are_line_numbers_and_values_convert(tmp_path):
    rows = [{"id": 7, "msg": "chest pain", "y": 1}, {"id": 8, "msg": "refill", "y": 0.0}]
    write(tmp_path, "m.jsonl", "\n" + jsonl(rows[:1]) + "\n" + jsonl(rows[1:]))
    data = load(tmp_path, {"path": "m.jsonl", "columns": {"text": "msg", "label": "y"}})
    assert [(i["id"], i["label"], i["source_row"]) for i in data.items] == [
        ("7", "1", 2), ("8", "0", 4)]


def test_json_array_file(tmp_path):
    write(tmp_path, "m.json", json.dumps([{"text": "a", "label": "x"},
                                          {"text": "b", "label": "y"}]))
    data = load(tmp_path, {"path": "m.json"})
    assert [i["label"] for i in data.items] == ["x", "y"] and data.items[1]["source_row"] == 2


def test_parquet_reasoning_with_list_options(tmp_path):
    table = pa.table({"q": ["Which drug first?", "Most likely diagnosis?"],
                      "answer": ["metformin", "gout"],
                      "choices": [["metformin", "insulin", "sulfonylurea"], None]})
    pq.write_table(table, tmp_path / "q.parquet")
    data = load(tmp_path, {"path": "q.parquet", "columns": {"text": "q", "label": "answer",
                                                            "options": "choices"}},
                family="clinical_reasoning")
    assert data.labels is None
    assert data.items[0]["options"] == ["metformin", "insulin", "sulfonylurea"]
    assert data.items[1]["options"] == [] and data.items[1]["label"] == "gout"  # free response


def test_reasoning_options_as_mapping_turn_a_letter_label_into_option_text(tmp_path):
    row = {"question": "First-line for anaphylaxis?", "answer_idx": "B",
           "options": {"A": "diphenhydramine", "B": "IM epinephrine"}}
    write(tmp_path, "medqa.jsonl", jsonl([row]))
    data = load(tmp_path, {"path": "medqa.jsonl",
                           "columns": {"text": "question", "label": "answer_idx"}},
                family="clinical_reasoning")
    assert data.items[0]["options"] == ["diphenhydramine", "IM epinephrine"]
    assert data.items[0]["label"] == "IM epinephrine"


def test_save_to_disk_dataset_and_dataset_dict(tmp_path):
    rows = {"text": ["a", "b", "c"], "label": [0, 1, 1]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "flat"))
    data = load(tmp_path, {"path": "flat"})
    assert [i["label"] for i in data.items] == ["0", "1", "1"] and "split" not in data.items[0]

    parts = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(rows),
        "valid": datasets.Dataset.from_dict({"text": ["d"], "label": [0]})})
    parts.save_to_disk(str(tmp_path / "dict"))
    data = load(tmp_path, {"path": "dict"})
    assert [(i["id"], i["split"]) for i in data.items] == [
        ("row-1", "train"), ("row-2", "train"), ("row-3", "train"), ("row-4", "validation")]


def test_summarization_fields_and_csv_list_cells(tmp_path):
    content = (
        "text,reference,key_facts\n"
        'Pt w/ CAP on CTX.,CAP on ceftriaxone.,"[""pneumonia"", ""ceftriaxone""]"\n'
        "Afib on apixaban.,AF anticoagulated.,atrial fibrillation | apixaban |\n"
    )
    write(tmp_path, "s.csv", content)
    data = load(tmp_path, {"path": "s.csv"}, family="summarization")
    assert data.labels is None
    assert data.items[0]["key_facts"] == ["pneumonia", "ceftriaxone"]
    assert data.items[1]["key_facts"] == ["atrial fibrillation", "apixaban"]
    assert data.items[1]["reference"] == "AF anticoagulated."


def test_reasoning_options_with_custom_separator(tmp_path):
    write(tmp_path, "q.csv", "text,label,options\nQ1?,b|1,a|1;b|1;c\nQ2?,free text,\n")
    data = load(tmp_path, {"path": "q.csv", "list_separator": ";"},
                family="clinical_reasoning")
    assert data.items[0]["options"] == ["a|1", "b|1", "c"] and data.items[0]["label"] == "b|1"
    assert data.items[1]["options"] == [] and data.items[1]["label"] == "free text"


@pytest.mark.parametrize(("spelling", "split"), [
    ("train", "train"), ("Training", "train"), ("VALIDATION", "validation"),
    ("valid", "validation"), ("val", "validation"), ("dev", "validation"), ("test", "test"),
    (" Testing ", "test")])
def test_split_spellings(tmp_path, spelling, split):
    write(tmp_path, "n.csv", f"text,label,part\na,x,{spelling}\nb,y,train\n")
    data = load(tmp_path, {"path": "n.csv", "columns": {"split": "part"}})
    assert data.items[0]["split"] == split


def test_split_column_can_be_ignored_with_null(tmp_path):
    write(tmp_path, "n.csv", "text,label,split\na,x,fold1\nb,y,fold2\n")
    data = load(tmp_path, {"path": "n.csv", "columns": {"split": None}})
    assert "split" not in data.items[0]


def test_chosen_and_rejected_pairs(tmp_path):
    write(tmp_path, "p.csv", "text,label,good,bad\na,x,x,y\nb,y,,\n")
    data = load(tmp_path, {"path": "p.csv", "columns": {"chosen": "good", "rejected": "bad"}})
    assert (data.items[0]["chosen"], data.items[0]["rejected"]) == ("x", "y")
    assert "chosen" not in data.items[1]  # a row without a pair


def test_hub_id_goes_to_load_dataset(tmp_path, monkeypatch):
    calls = []

    def fake_load_dataset(path, **kwargs):
        calls.append((path, kwargs))
        return datasets.DatasetDict({"test": datasets.Dataset.from_dict(
            {"text": ["a", "b"], "label": ["x", "y"]})})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load(tmp_path, {"hub_id": "user/notes", "config": "small", "revision": "v1"})
    assert calls == [("user/notes", {"name": "small", "revision": "v1"})]
    assert data.source == "user/notes" and [i["split"] for i in data.items] == ["test", "test"]


def test_non_utf8_bytes_in_an_unused_column_are_ignored(tmp_path):
    write(tmp_path, "n.csv", b"text,label,comment\na,x,caf\xe9\nb,y,ok\n")
    assert load(tmp_path, {"path": "n.csv"}).n_rows == 2


# ---------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    fails(tmp_path, {"path": "data/none.csv"}, field="data.path", says=["not found"])


def test_unknown_format(tmp_path):
    write(tmp_path, "n.txt", "text,label\n")
    fails(tmp_path, {"path": "n.txt"}, field="data.format", says=["'.txt'", "csv"])


def test_folder_that_is_not_a_saved_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    fails(tmp_path, {"path": "empty"}, says=["save_to_disk"])
    fails(tmp_path, {"path": "empty", "format": "csv"}, field="data.format",
          says=["is a folder"])


def test_missing_mapped_column_lists_the_columns(tmp_path):
    write(tmp_path, "n.csv", NOTES_CSV)
    message = fails(tmp_path, {"path": "n.csv", "columns": {"text": "note", "label": "result"}},
                    field="label", says=["header (line 1)", "'result'", "data.columns.label",
                                         "note_id, note, finding"])
    assert "column" in message


def test_wrong_delimiter_gets_a_hint(tmp_path):
    write(tmp_path, "n.csv", "text;label\na;x\n")
    fails(tmp_path, {"path": "n.csv"}, field="text", says=["is the delimiter right?"])


def test_required_field_without_mapping_or_column(tmp_path):
    write(tmp_path, "n.csv", NOTES_CSV)
    fails(tmp_path, {"path": "n.csv", "columns": {"label": "finding"}}, field="text",
          says=["header (line 1)", "no column 'text'", "note_id, note, finding"])
    write(tmp_path, "s.jsonl", jsonl([{"text": "a", "key_facts": ["b"]}]))
    fails(tmp_path, {"path": "s.jsonl"}, "summarization", field="reference",
          says=["all lines", "no key 'reference'"])


def test_summaries_without_key_facts_are_graded_against_their_references(tmp_path):
    """A summary set with no key_facts column loads (the rubric takes the reference's
    clauses); a key_facts column with an empty cell, or a reference with nothing to grade,
    is refused with the row named."""
    write(tmp_path, "s.jsonl", jsonl([{"text": "Long note.", "reference": "Stable COPD."}]))
    data = load(tmp_path, {"path": "s.jsonl"}, "summarization")
    assert "key_facts" not in data.items[0]
    write(tmp_path, "f.jsonl", jsonl([{"text": "a", "reference": "b c", "key_facts": ["b"]},
                                      {"text": "d", "reference": "e f", "key_facts": ""}]))
    fails(tmp_path, {"path": "f.jsonl"}, "summarization", row=2, field="key_facts",
          says=["no key facts", "columns.key_facts: null"])
    write(tmp_path, "n.jsonl", jsonl([{"text": "a", "reference": "Fine."},
                                      {"text": "b", "reference": "Normal."}]))
    fails(tmp_path, {"path": "n.jsonl"}, "summarization", row=2, field="reference",
          says=["no clause with a content word"])


def test_empty_text_label_and_reference(tmp_path):
    write(tmp_path, "n.csv", "text,label\nfine,x\n   ,y\n")
    fails(tmp_path, {"path": "n.csv"}, row=2, field="text",
          says=["data row 2 (line 3)", "(column 'text')", "empty"])
    write(tmp_path, "l.csv", "text,label\nfine,x\nalso fine, \n")
    fails(tmp_path, {"path": "l.csv"}, row=2, field="label", says=["data row 2 (line 3)"])
    write(tmp_path, "s.jsonl", jsonl([{"text": "a", "reference": None, "key_facts": ["f"]}]))
    fails(tmp_path, {"path": "s.jsonl"}, "summarization", row=1, field="reference",
          says=["line 1", "empty (null)"])
    write(tmp_path, "k.jsonl", "\n" + jsonl([{"text": "a", "label": "x"}, {"label": "y"}]))
    fails(tmp_path, {"path": "k.jsonl"}, row=3, field="text", says=["line 3", "missing"])


def test_unknown_label_against_declared_set(tmp_path):
    write(tmp_path, "n.csv", NOTES_CSV.replace("n3,  Small left effusion.  ,present",
                                               "n3,Small left effusion.,Presnt"))
    fails(tmp_path, {"path": "n.csv", "labels": ["present", "absent"],
                     "columns": {"id": "note_id", "text": "note", "label": "finding"}},
          row=3, field="label", says=["data row 3 (line 5)", "(column 'finding')", "'Presnt'",
                                      "did you mean 'present'", "data.labels"])


def test_single_class_label_sets(tmp_path):
    write(tmp_path, "n.csv", "text,label\na,x\nb,x\n")
    fails(tmp_path, {"path": "n.csv"}, field="label", says=["all rows", "at least 2 classes"])


def test_duplicate_ids_name_both_rows(tmp_path):
    write(tmp_path, "n.jsonl", jsonl([{"id": 1, "text": "a", "label": "x"},
                                      {"id": 2, "text": "b", "label": "y"},
                                      {"id": "1", "text": "c", "label": "y"}]))
    fails(tmp_path, {"path": "n.jsonl"}, row=3, field="id",
          says=["line 1 and line 3", "duplicate id '1'"])


def test_non_utf8_bytes_give_line_and_byte_offset(tmp_path):
    write(tmp_path, "n.csv", b"text,label\nfine,x\nfi\xe9vre,y\n")
    fails(tmp_path, {"path": "n.csv"}, row=2, field="text",
          says=["data row 2 (line 3)", "not valid UTF-8", "byte e9 at byte 3 of line 3",
                "file offset 20"])
    write(tmp_path, "n.jsonl", b'{"text": "a", "label": "x"}\n{"text": "b", "label": "\xff"}\n')
    fails(tmp_path, {"path": "n.jsonl"}, row=2, field="label",
          says=["line 2", "not valid UTF-8", "byte ff at byte 25 of line 2", "file offset 52"])


def test_rows_that_do_not_parse(tmp_path):
    write(tmp_path, "n.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": }\n')
    fails(tmp_path, {"path": "n.jsonl"}, row=2, says=["line 2", "not valid JSON"])
    write(tmp_path, "o.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n')
    fails(tmp_path, {"path": "o.jsonl"}, row=2, says=["line 2", "JSON object"])
    write(tmp_path, "n.csv", "text,label\na,x\nb,y,extra\n")
    fails(tmp_path, {"path": "n.csv"}, row=2, says=["data row 2 (line 3)", "has 3 fields",
                                                    "expected 2 fields"])
    write(tmp_path, "q.csv", 'text,label\na,x\n"b,y\nc,z\n')
    fails(tmp_path, {"path": "q.csv"}, row=2, says=["data row 2", "line 3",
                                                    "never closed"])


def test_empty_files(tmp_path):
    write(tmp_path, "e.csv", "")
    fails(tmp_path, {"path": "e.csv"}, says=["empty"])
    write(tmp_path, "h.csv", "text,label\n")
    fails(tmp_path, {"path": "h.csv"}, says=["is empty (a header and no data rows)"])


def test_options_need_two_entries_and_the_label(tmp_path):
    spec = {"path": "q.jsonl", "columns": {"options": "choices"}}
    write(tmp_path, "q.jsonl", jsonl([{"text": "Q?", "label": "a", "choices": ["a"]}]))
    fails(tmp_path, spec, "clinical_reasoning", row=1, field="options",
          says=["line 1", "(key 'choices')", "at least 2 options"])
    write(tmp_path, "q.jsonl", jsonl([{"text": "Q?", "label": "c", "choices": ["a", "b"]}]))
    fails(tmp_path, spec, "clinical_reasoning", row=1, field="label",
          says=["line 1", "not among the row's options", "'a', 'b'"])
    write(tmp_path, "q.jsonl", jsonl([{"text": "Q?", "label": "a", "choices": 3}]))
    fails(tmp_path, spec, "clinical_reasoning", row=1, field="options", says=["a number (3)"])


def test_chosen_and_rejected_go_together(tmp_path):
    write(tmp_path, "p.csv", "text,label,chosen\na,x,x\nb,y,y\n")
    fails(tmp_path, {"path": "p.csv"}, field="rejected",
          says=["header (line 1)", "both chosen and rejected"])
    write(tmp_path, "p.csv", "text,label,chosen,rejected\na,x,x,y\nb,y,y,\n")
    fails(tmp_path, {"path": "p.csv"}, row=2, field="rejected",
          says=["data row 2 (line 3)", "empty, but chosen is given"])
    write(tmp_path, "p.csv", "text,label,chosen,rejected\na,x,x,x\nb,y,y,x\n")
    fails(tmp_path, {"path": "p.csv"}, row=1, field="rejected", says=["same text as chosen"])


def test_non_string_values_where_text_is_expected(tmp_path):
    write(tmp_path, "n.jsonl", jsonl([{"text": 42, "label": "x"}]))
    fails(tmp_path, {"path": "n.jsonl"}, row=1, field="text", says=["a number (42)", "string"])
    write(tmp_path, "l.jsonl", jsonl([{"text": "a", "label": ["x"]}]))
    fails(tmp_path, {"path": "l.jsonl"}, row=1, field="label", says=["a list"])
    pq.write_table(pa.table({"text": ["a", "b"], "label": ["x", "y"], "chosen": ["x", "y"],
                             "rejected": [1, 2]}), tmp_path / "p.parquet")
    fails(tmp_path, {"path": "p.parquet"}, row=1, field="rejected",
          says=["row 1", "(column 'rejected')", "a number (1)"])


def test_unknown_split_names_the_row(tmp_path):
    write(tmp_path, "n.csv", "text,label,split\na,x,train\nb,y,holdout\n")
    fails(tmp_path, {"path": "n.csv"}, row=2, field="split",
          says=["data row 2 (line 3)", "'holdout'", "train, validation or test"])
    datasets.DatasetDict({"train_sft": datasets.Dataset.from_dict(
        {"text": ["a", "b"], "label": ["x", "y"]})}).save_to_disk(str(tmp_path / "d"))
    fails(tmp_path, {"path": "d"}, row=1, field="split", says=["split 'train_sft'"])


def test_spec_mistakes(tmp_path):
    write(tmp_path, "n.csv", "text,label\na,x\nb,y\n")
    fails(tmp_path, {"path": "n.csv", "columns": {"reference": "x"}},
          field="data.columns.reference", says=["does not use"])
    fails(tmp_path, {"path": "n.csv", "labels": ["x", "y"]}, "clinical_reasoning",
          field="data.labels")
    fails(tmp_path, {"path": "n.csv", "labels": ["yes", " yes"]}, field="data.labels",
          says=["declared twice"])


@pytest.mark.parametrize(("data", "says"), [
    ({"path": "n.csv", "colums": {}}, "tasks.mine.data: Additional properties are not allowed "
                                      "('colums' was unexpected)"),
    ({"path": "n.csv", "columns": {"lable": "x"}},
     "tasks.mine.data.columns: Additional properties are not allowed ('lable' was unexpected)"),
    ({"path": "n.csv", "format": "xlsx"}, "tasks.mine.data.format: 'xlsx' is not one of"),
    ({"path": "n.csv", "labels": [True, False]},
     "tasks.mine.data.labels.0: True is not of type 'string', 'number': YAML reads "
     "yes/no/true/false unquoted as booleans; allowed: text, quoted ('true')"),
    ({"path": "n.csv", "conflicting_repeats": "keep_first"},
     "tasks.mine.data.conflicting_repeats: 'keep_first' is not one of ['refuse', 'drop']"),
    ({"path": "n.csv", "label_names": {1: ["neoplasms"]}},
     "tasks.mine.data.label_names.1: ['neoplasms'] is not of type 'string'"),
    ({"path": "n.csv", "hub_id": "a/b"}, "tasks.mine.data: {'path': 'n.csv', 'hub_id': 'a/b'} "
                                         "is valid under each of"),
    ({"path": "n.csv", "labels": ["x"]}, "tasks.mine.data.labels: ['x'] is too short"),
    ({"path": "n.csv", "list_separator": ""}, "tasks.mine.data.list_separator: '' should be "
                                              "non-empty"),
])
def test_spec_mistakes_the_schema_refuses(data, says):
    """What the config schema refuses is not checked again when the data is read; the error
    names the config file and the key."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["tasks"]["mine"] = {"data": data, "family": "triage"}
    with pytest.raises(ConfigError) as raised:
        check_config(config, REPO / "workflow/schemas/config.schema.yaml", source="my.yaml")
    assert str(raised.value).startswith("my.yaml is not a valid experiment config:")
    assert says in str(raised.value)


# ---------------------------------------------------------------------------- integrity


@pytest.mark.parametrize("header", ["Split", "SPLIT", " split "])
def test_a_split_column_is_matched_without_case(tmp_path, header):
    write(tmp_path, "n.csv", f"Text,Label,{header}\na,x,train\nb,y,Validate\nc,x,test\n")
    data = load(tmp_path, {"path": "n.csv"})
    assert [i["split"] for i in data.items] == ["train", "validation", "test"]
    assert data.items[0]["text"] == "a" and data.items[1]["label"] == "y"


def test_two_columns_named_split_but_for_case_are_refused(tmp_path):
    write(tmp_path, "n.csv", "text,label,split,Split\na,x,train,test\nb,y,test,train\n")
    fails(tmp_path, {"path": "n.csv"}, field="split",
          says=["header (line 1)", "'split', 'Split' both name it", "data.columns.split"])


def test_a_split_column_by_another_name_is_a_near_miss(tmp_path):
    write(tmp_path, "n.csv", "text,label,data_split\na,x,train\nb,y,test\n")
    fails(tmp_path, {"path": "n.csv"}, field="split",
          says=["'data_split' looks like one", "data.columns.split: data_split",
                "data.columns.split: null"])
    data = load(tmp_path, {"path": "n.csv", "columns": {"split": None}})
    assert "split" not in data.items[0]


@pytest.mark.parametrize(("cell", "facts"), [
    ('"fever\ncough\n"', ["fever", "cough"]),
    ("fever; cough;", ["fever", "cough"]),
    ("fever | cough; dry", ["fever", "cough; dry"]),
    ('"[""fever; high"", ""cough""]"', ["fever; high", "cough"]),
])
def test_key_facts_by_line_then_separator_then_semicolon(tmp_path, cell, facts):
    write(tmp_path, "s.csv", f"text,reference,key_facts\nnote,ref,{cell}\n")
    assert load(tmp_path, {"path": "s.csv"}, "summarization").items[0]["key_facts"] == facts


@pytest.mark.parametrize(("name", "content", "says"), [
    ("e.jsonl", "", "0 bytes or blank lines only"),
    ("b.jsonl", "\n  \n\n", "0 bytes or blank lines only"),
    ("a.json", "[]", "an empty JSON array"),
    ("h.csv", "text,label\n\n", "a header and no data rows"),
])
def test_empty_inputs_say_empty(tmp_path, name, content, says):
    write(tmp_path, name, content)
    message = fails(tmp_path, {"path": name}, says=["is empty", says])
    assert "no key" not in message and "no column" not in message


def test_a_symlink_loop_is_a_data_error(tmp_path):
    (tmp_path / "one.csv").symlink_to(tmp_path / "two.csv")
    (tmp_path / "two.csv").symlink_to(tmp_path / "one.csv")
    fails(tmp_path, {"path": "one.csv"}, field="data.path",
          says=["symbolic link that leads nowhere"])
    (tmp_path / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    fails(tmp_path, {"path": "gone.csv"}, field="data.path", says=["leads nowhere"])


# ---------------------------------------------------------------------------- every problem


def test_every_bad_row_is_in_one_report(tmp_path):
    """Each row's problems, and each field's, are collected: one DataError lists them all,
    each line naming the file, the row, the field and what was expected."""
    write(tmp_path, "n.csv", "text,label,split\nfine,x,train\n ,y,train\nok,N/A,test\n"
                             "good,y,holdout\n,,train\nlast,y,test\n")
    with pytest.raises(DataError) as caught:
        load(tmp_path, {"path": "n.csv"})
    error, message = caught.value, str(caught.value)
    assert message.startswith("n.csv: 5 problems"), message
    assert (error.source, error.row, error.field) == ("n.csv", 2, "text")
    assert [(p.row, p.field) for p in error.problems] == [
        (2, "text"), (3, "label"), (4, "split"), (5, "text"), (5, "label")]
    lines = message.splitlines()[1:]
    assert len(lines) == 5 and all(line.startswith("  n.csv, data row ") for line in lines)
    assert all("expected" in line for line in lines)
    assert "data row 4 (line 5), field 'split' (column 'split'): unknown split 'holdout'" in message


def test_undeclared_labels_and_duplicate_ids_are_all_listed(tmp_path):
    write(tmp_path, "n.jsonl", jsonl([{"id": 1, "text": "a", "label": "yes"},
                                      {"id": 2, "text": "b", "label": "maybe"},
                                      {"id": 1, "text": "c", "label": "no"},
                                      {"id": 3, "text": "d", "label": "perhaps"}]))
    with pytest.raises(DataError) as caught:
        load(tmp_path, {"path": "n.jsonl", "labels": ["yes", "no"]})
    assert [(p.row, p.field) for p in caught.value.problems] == [
        (2, "label"), (3, "id"), (4, "label")]
    assert "'maybe' is not declared" in str(caught.value)
    assert "'perhaps' is not declared" in str(caught.value)


def test_problems_past_fifty_are_counted(tmp_path):
    rows = "".join(f"note {i},N/A\n" for i in range(60))
    write(tmp_path, "n.csv", "text,label\na,x\nb,y\n" + rows)
    with pytest.raises(DataError) as caught:
        load(tmp_path, {"path": "n.csv"})
    message = str(caught.value)
    assert len(caught.value.problems) == 60
    assert message.startswith("n.csv: 60 problems")
    lines = message.splitlines()
    assert len(lines) == 1 + 50 + 1 and lines[-1] == "  and 10 more"
    assert "data row 52 (line 53)" in lines[50] and "data row 53" not in message


def test_a_file_of_rows_that_do_not_parse_lists_them_all(tmp_path):
    write(tmp_path, "n.csv", "text,label\na,x\nb,y,extra\nc,y\nd,x,1,2\n")
    with pytest.raises(DataError) as caught:
        load(tmp_path, {"path": "n.csv"})
    assert [p.row for p in caught.value.problems] == [2, 4]
    assert "has 4 fields" in str(caught.value)
    write(tmp_path, "n.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": }\n'
                               '["c", "y"]\n{"text": "d", "label": "y"}\n')
    with pytest.raises(DataError) as caught:
        load(tmp_path, {"path": "n.jsonl"})
    assert [p.row for p in caught.value.problems] == [2, 3]


def test_numbers_in_declared_labels_pass_the_schema():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["tasks"]["mine"] = {"family": "text_classification", "data": {
        "path": "n.csv", "labels": [0, 1, 2.5, "unsure"], "conflicting_repeats": "drop",
        "label_names": {0: "absent", 1: "present", 2.5: "borderline", "unsure": "unsure"}}}
    check_config(config, REPO / "workflow/schemas/config.schema.yaml", source="my.yaml")
