import json
import unicodedata
from collections import Counter

import pytest

from sftdpo.data import (
    build_splits,
    check_user_data,
    drop_duplicate_texts,
    dropped_report,
    normalised,
    split_size_problem,
    stratified_split,
)
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.userdata import DataError

TRIAGE = BUILTIN_TASKS["provider_triage"]


def split(seed=0, n=300):
    return stratified_split(TRIAGE, TRIAGE.build_items(n, 0), validation=0.1, test=0.4,
                            seed=seed)


def test_splits_cover_items_once_with_requested_shares():
    parts = split()
    ids = [item["id"] for part in parts.values() for item in part]
    assert len(ids) == len(set(ids)) == 300
    assert len(parts["test"]) == 120
    assert len(parts["validation"]) == 30


def test_no_text_in_two_splits():
    parts = split()
    texts = {name: {normalised(i["text"]) for i in part} for name, part in parts.items()}
    assert not texts["train"] & texts["test"]
    assert not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]


def test_duplicates_are_dropped_before_splitting():
    items = [{"id": "a", "text": "Need a refill!"}, {"id": "b", "text": "need a  refill"},
             {"id": "c", "text": "Chest pain"}]
    kept, dropped = drop_duplicate_texts(items)
    assert [i["id"] for i in kept] == ["a", "c"] and dropped == 1


@pytest.mark.parametrize("field", ["provider", "urgency"])
def test_each_split_keeps_the_label_shares(field):
    parts = split()
    overall = Counter(i[field] for part in parts.values() for i in part)
    for part in (parts["train"], parts["test"]):
        counts = Counter(i[field] for i in part)
        for label, total in overall.items():
            assert counts[label] / len(part) == pytest.approx(total / 300, abs=0.03)


def test_split_is_seeded():
    assert split(seed=1) == split(seed=1)
    assert [i["id"] for i in split(seed=1)["test"]] != [i["id"] for i in split(seed=2)["test"]]


def test_both_triage_tasks_split_the_same_messages_alike():
    urgency = BUILTIN_TASKS["urgency_triage"]
    items = TRIAGE.build_items(300, 0)
    a = stratified_split(TRIAGE, items, 0.1, 0.4, seed=0)
    b = stratified_split(urgency, items, 0.1, 0.4, seed=0)
    assert {n: [i["id"] for i in p] for n, p in a.items()} == {
        n: [i["id"] for i in p] for n, p in b.items()}


def test_small_tasks_fall_back_to_stratifying_on_the_label():
    parts = stratified_split(TRIAGE, TRIAGE.build_items(60, 0), validation=0.1, test=0.4, seed=0)
    assert [len(parts[name]) for name in ("train", "validation", "test")] == [30, 6, 24]
    assert len({i["provider"] for i in parts["test"]}) == 4


def user_csv(tmp_path, rows, header="text,label,split"):
    path = tmp_path / "notes.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return {"family": "text_classification", "data": {"path": str(path), "columns": {}}}


SPLIT_SETTINGS = {"validation": 0.2, "test": 0.4}


def test_user_splits_drop_a_test_text_seen_in_training_and_count_it(tmp_path):
    rows = ["No pneumothorax.,no acute,train", "Small left PTX.,acute,train",
            "Large right effusion.,acute,validation", "Clear lungs.,no acute,validation",
            "no  pneumothorax,no acute,test", "New RLL consolidation.,acute,test",
            "Stable chronic changes.,no acute,test"]
    splits, meta = build_splits("mine", user_csv(tmp_path, rows), SPLIT_SETTINGS, seed=0)
    assert [i["text"] for i in splits["test"]] == ["New RLL consolidation.",
                                                   "Stable chronic changes."]
    assert meta["duplicates_dropped"] == {"train": 0, "validation": 0, "test": 1}
    assert meta["counts"] == {"train": 2, "validation": 2, "test": 2}
    assert meta["labels"] == ["acute", "no acute"] and meta["kind"] == "label"
    assert meta["split_from"] == "the data's split column"


def test_user_data_without_splits_is_split_after_dropping_repeats(tmp_path):
    rows = [f"Finding number {i}.,{'acute' if i % 2 else 'no acute'}" for i in range(40)]
    rows.append("finding number 3,acute")
    splits, meta = build_splits("mine", user_csv(tmp_path, rows, "text,label"),
                                SPLIT_SETTINGS, seed=0)
    assert meta["duplicates_dropped"] == {"before splitting": 1}
    assert sum(meta["counts"].values()) == 40
    assert meta["counts"]["test"] == 16


def test_a_train_split_with_one_label_is_refused(tmp_path):
    rows = ["A.,acute,train", "B.,acute,train", "C.,no acute,validation", "D.,no acute,test"]
    with pytest.raises(DataError, match="the train split holds one label only"):
        build_splits("mine", user_csv(tmp_path, rows), SPLIT_SETTINGS, seed=0)


def test_an_empty_split_is_refused_saying_why(tmp_path):
    """A split column with no validation row says so (nothing was dropped); one whose
    validation rows were all repeats names them."""
    rows = ["A.,acute,train", "B.,no acute,train", "C.,no acute,test"]
    with pytest.raises(DataError) as caught:
        build_splits("mine", user_csv(tmp_path, rows), SPLIT_SETTINGS, seed=0)
    message = str(caught.value)
    assert (f"{tmp_path / 'notes.csv'}, field 'split': the validation split is empty: no row of "
            f"the data has split 'validation' (rows by split: train 2, validation 0, test 1)"
            in message), message
    assert "dropp" not in message and caught.value.field == "split"

    rows = ["A.,acute,train", "B.,no acute,train", "a,acute,validation", "b.,no acute,validation",
            "C.,no acute,test"]
    with pytest.raises(DataError) as caught:
        build_splits("mine", user_csv(tmp_path, rows), SPLIT_SETTINGS, seed=0)
    assert ("the validation split is empty: all 2 rows with split 'validation' were dropped, as "
            "2 repeated texts (data row 3 (line 4), data row 4 (line 5)); expected at least one "
            "item in validation" in str(caught.value)), str(caught.value)


def test_builtin_meta_records_source_labels_and_counts():
    splits, meta = build_splits("provider_triage", {"n_items": 50}, SPLIT_SETTINGS, seed=0)
    assert meta["labels"] == list(TRIAGE.labels) and meta["family"] == "triage"
    assert meta["source"] == "built-in generator provider_triage"
    assert meta["counts"] == {name: len(part) for name, part in splits.items()}


def test_a_text_in_nfc_and_in_nfd_is_one_text(tmp_path):
    nfc_text = "Épanchement pleural gauche."
    nfd_text = unicodedata.normalize("NFD", nfc_text)
    assert normalised(nfc_text) == normalised(nfd_text)
    rows = [f"{nfc_text},acute,train", "Clear lungs.,no acute,train",
            "Small PTX.,acute,validation", f"{nfd_text},acute,test", "No effusion.,no acute,test"]
    splits, meta = build_splits("mine", user_csv(tmp_path, rows), SPLIT_SETTINGS, seed=0)
    assert [i["text"] for i in splits["test"]] == ["No effusion."]
    assert meta["duplicates_dropped"]["test"] == 1


@pytest.mark.parametrize("second_split", ["train", "test"])
def test_one_text_with_two_labels_is_refused_naming_both_rows(tmp_path, second_split):
    rows = ["Small PTX.,acute,train", "Clear lungs.,no acute,train",
            "Large effusion.,acute,validation", f"small  ptx,no acute,{second_split}",
            "No effusion.,no acute,test"]
    with pytest.raises(DataError) as caught:
        build_splits("mine", user_csv(tmp_path, rows), SPLIT_SETTINGS, seed=0)
    message = str(caught.value)
    assert "data row 1 (line 2) and data row 4 (line 5), field 'label'" in message
    assert "'acute' and 'no acute'" in message and caught.value.row == 4


def test_too_few_rows_for_the_shares_say_how_many_are_needed(tmp_path):
    rows = [f"Finding {i}.,{'acute' if i % 2 else 'no acute'}" for i in range(5)]
    with pytest.raises(DataError) as caught:
        build_splits("mine", user_csv(tmp_path, rows, "text,label"), SPLIT_SETTINGS, seed=0)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "notes.csv"))
    assert "5 items are too few for split.validation 0.2 and split.test 0.4" in message
    assert "train 2, validation 1, test 2" in message and "at least 8 items" in message


@pytest.mark.parametrize(("n", "k", "validation", "test", "fewest"), [
    (5, 2, 0.2, 0.4, 8), (20, 4, 0.1, 0.4, 35), (400, 2, 0.001, 0.4, 1500)])
def test_split_size_problem(n, k, validation, test, fewest):
    assert f"at least {fewest} items" in split_size_problem(n, k, validation, test)
    assert split_size_problem(fewest, k, validation, test) is None


def test_user_data_is_checked_before_any_job_when_small(tmp_path):
    spec = user_csv(tmp_path, ["A.,acute", "B.,N/A"], "text,label")
    with pytest.raises(DataError, match="data row 2 .*missing value"):
        check_user_data("mine", spec, SPLIT_SETTINGS, 0)
    missing = {"family": "triage", "data": {"path": str(tmp_path / "none.csv")}}
    with pytest.raises(DataError, match="not found"):
        check_user_data("mine", missing, SPLIT_SETTINGS, 0)
    check_user_data("provider_triage", {"n_items": 50}, SPLIT_SETTINGS, 0)  # built-in: nothing


def test_a_patient_column_splits_by_patient(tmp_path):
    """columns: {group: patient_id} with split.by: group: every note of a patient lands in
    one split, the labels stay balanced as well as the patients allow, and meta.json counts
    the patients per split."""
    rows = [f"Note {k} of patient {p}: {'new' if (p + k) % 2 else 'old'} finding.,"
            f"{'acute' if (p + k) % 2 else 'no acute'},P{p:03d}"
            for p in range(40) for k in range(3)]
    spec = user_csv(tmp_path, rows, "text,label,patient_id")
    spec["data"]["columns"] = {"group": "patient_id"}
    splits, meta = build_splits("mine", spec, SPLIT_SETTINGS | {"by": "group"}, seed=0)
    patients = {name: {item["group"] for item in items} for name, items in splits.items()}
    assert not (patients["train"] & patients["validation"] or patients["train"] & patients["test"]
                or patients["validation"] & patients["test"])
    assert sum(len(p) for p in patients.values()) == 40
    assert meta["groups"] == {name: len(p) for name, p in patients.items()}
    assert meta["groups"]["test"] == 16 and meta["groups"]["validation"] == 8
    assert meta["split_from"] == "seeded stratified split by group (seed 0)"
    for items in splits.values():
        assert {item["label"] for item in items} == {"acute", "no acute"}
    by_item, _ = build_splits("mine", spec, SPLIT_SETTINGS, seed=0)
    crossing = {item["group"] for item in by_item["test"]} & {
        item["group"] for item in by_item["train"]}
    assert crossing  # splitting by item puts a patient's notes in train and test


def test_a_patient_in_two_of_the_datas_own_splits_is_refused(tmp_path):
    rows = ["Old finding.,no acute,train,P1", "New finding.,acute,train,P2",
            "Other finding.,acute,validation,P3", "Clear.,no acute,validation,P4",
            "Stable.,no acute,test,P1", "Worse.,acute,test,P5"]
    spec = user_csv(tmp_path, rows, "text,label,split,patient_id")
    spec["data"]["columns"] = {"group": "patient_id"}
    with pytest.raises(DataError, match=r"notes.csv, data row 1 \(line 2\) \(train\) and data "
                                        r"row 5 \(line 6\) \(test\), "
                                        r"field 'group': group 'P1' is in two splits"):
        build_splits("mine", spec, SPLIT_SETTINGS, seed=0)


def test_too_few_groups_for_the_shares_are_refused(tmp_path):
    rows = [f"Note {k} of {p}.,{'acute' if k % 2 else 'no acute'},P{p}"
            for p in range(2) for k in range(10)]
    spec = user_csv(tmp_path, rows, "text,label,patient_id")
    spec["data"]["columns"] = {"group": "patient_id"}
    with pytest.raises(DataError, match="2 groups are too few for split.by: group"):
        build_splits("mine", spec, SPLIT_SETTINGS | {"by": "group"}, seed=0)


# ---------------------------------------------------------------------------- every problem


def conflicts_and_missing_labels(missing="") -> list[str]:
    """Three texts that appear twice with different labels, two rows with no label (unless
    ``missing`` fills them in), and enough other rows to split."""
    rows = [f"Finding number {i}.,{'acute' if i % 2 else 'no acute'}" for i in range(30)]
    rows[3] = "Small left PTX.,acute"
    rows[8] = f"Clear lungs one.,{missing}"
    rows[12] = "Large right effusion.,acute"
    rows[17] = f"Clear lungs two.,{missing}"
    rows[20] = "New RLL consolidation.,acute"
    return rows + ["small left ptx,no acute", "Large right effusion,no acute",
                   "new RLL consolidation.,no acute"]


def test_three_conflicts_and_two_missing_labels_are_one_report(tmp_path):
    spec = user_csv(tmp_path, conflicts_and_missing_labels(), "text,label")
    with pytest.raises(DataError) as caught:
        build_splits("mine", spec, SPLIT_SETTINGS, seed=0)
    error, message = caught.value, str(caught.value)
    assert len(error.problems) == 5, message
    assert message.startswith(f"{tmp_path / 'notes.csv'}: 5 problems")
    for where in ("data row 9 (line 10), field 'label'", "data row 18 (line 19), field 'label'",
                  "data row 4 (line 5) and data row 31 (line 32), field 'label'",
                  "data row 13 (line 14) and data row 32 (line 33), field 'label'",
                  "data row 21 (line 22) and data row 33 (line 34), field 'label'"):
        assert where in message, message
    assert message.count("missing value (empty)") == 2
    assert message.count("conflicting_repeats: drop") == 3
    with pytest.raises(DataError, match="5 problems"):
        check_user_data("mine", spec, SPLIT_SETTINGS, 0)  # when Snakemake plans the run


def test_conflicting_repeats_drop_lists_every_copy_in_meta(tmp_path):
    spec = user_csv(tmp_path, conflicts_and_missing_labels(), "text,label")
    spec["data"]["conflicting_repeats"] = "drop"
    with pytest.raises(DataError) as caught:  # drop is for conflicts, not for missing labels
        build_splits("mine", spec, SPLIT_SETTINGS, seed=0)
    assert len(caught.value.problems) == 2 and "has the answers" not in str(caught.value)

    spec = user_csv(tmp_path, conflicts_and_missing_labels(missing="no acute"), "text,label")
    spec["data"]["conflicting_repeats"] = "drop"
    splits, meta = build_splits("mine", spec, SPLIT_SETTINGS, seed=0)
    kept = {normalised(item["text"]) for part in splits.values() for item in part}
    assert not kept & {"small left ptx", "large right effusion", "new rll consolidation"}
    assert sum(meta["counts"].values()) == 27
    assert meta["conflicting_repeats"] == {"policy": "drop", "texts": 3, "items": 6}
    dropped = meta["dropped"]
    assert [entry["row"] for entry in dropped] == [4, 31, 13, 32, 21, 33]
    first = dropped[0]
    assert first["file"] == str(tmp_path / "notes.csv") and first["id"] == "row-4"
    assert first["where"] == "data row 4 (line 5)"
    assert "conflicting" in first["reason"] and "data row 31 (line 32)" in first["reason"]


def test_summaries_conflicting_and_identical_repeats(tmp_path):
    """Two notes with one text and other references are a conflict, as two labels are; two
    with one reference are a repeat, dropped and listed."""
    path = tmp_path / "s.jsonl"
    rows = [{"text": f"Note {i}: stable, discharged home.", "reference": f"Stable {i}, home."}
            for i in range(10)]
    rows += [{"text": "Note 1: stable, discharged home.", "reference": "Stable 1, home."},
             {"text": "Note 2: stable, discharged home.", "reference": "Unstable, admitted."}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    spec = {"family": "summarization", "data": {"path": str(path)}}
    with pytest.raises(DataError) as caught:
        build_splits("notes", spec, SPLIT_SETTINGS, seed=0)
    message = str(caught.value)
    assert "line 3 and line 12, field 'reference'" in message, message
    assert "'Stable 2, home.'" in message and "'Unstable, admitted.'" in message
    assert "line 11" not in message  # the identical repeat is no problem

    spec["data"]["conflicting_repeats"] = "drop"
    splits, meta = build_splits("notes", spec, SPLIT_SETTINGS, seed=0)
    assert sum(meta["counts"].values()) == 9
    assert meta["duplicates_dropped"] == {"before splitting": 1}
    assert meta["conflicting_repeats"] == {"policy": "drop", "texts": 1, "items": 2}
    reasons = {entry["where"]: entry["reason"] for entry in meta["dropped"]}
    assert set(reasons) == {"line 11", "line 3", "line 12"}
    assert "repeats line 2" in reasons["line 11"]


def test_a_repeat_within_and_across_the_datas_splits_is_listed(tmp_path):
    rows = ["No pneumothorax.,no acute,train", "Small left PTX.,acute,train",
            "no pneumothorax,no acute,train", "Large right effusion.,acute,validation",
            "Clear lungs.,no acute,validation", "small left PTX,acute,test",
            "New RLL consolidation.,acute,test", "Stable chronic changes.,no acute,test"]
    splits, meta = build_splits("mine", user_csv(tmp_path, rows), SPLIT_SETTINGS, seed=0)
    assert meta["duplicates_dropped"] == {"train": 1, "validation": 0, "test": 1}
    assert [(e["where"], e["id"], e["split"]) for e in meta["dropped"]] == [
        ("data row 3 (line 4)", "row-3", "train"), ("data row 6 (line 7)", "row-6", "test")]
    assert "repeats data row 1 (line 2)" in meta["dropped"][0]["reason"]
    assert "data row 2 (line 3) (train)" in meta["dropped"][1]["reason"]
    log = dropped_report(meta)  # what the data job's log says
    assert log[0] == ("dropped 2 items: 2 repeated texts, 0 copies of 0 texts with "
                      "conflicting answers (conflicting_repeats: refuse)")
    assert log[1].startswith(f"  {tmp_path / 'notes.csv'}, data row 3 (line 4): repeats data "
                             f"row 1 (line 2) (train)")
