"""The numeric classification tasks: breast-mass cytology (real data) and qSOFA from vitals."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sklearn.datasets import load_breast_cancer

from sftdpo.tasks.numeric import (
    BREAST_CANCER,
    MEASUREMENTS,
    SEPSIS_QSOFA,
    generate_breast_cancer,
    generate_vitals,
)

DATA = load_breast_cancer()
NUMBER = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"

# --- breast cancer -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return generate_breast_cancer(400, seed=0)


def test_breast_cancer_counts_ids_and_rows(cases):
    assert len(cases) == 400
    rows = [it["row"] for it in cases]
    assert len(set(rows)) == 400 and all(0 <= r < 569 for r in rows)
    assert [it["id"] for it in cases] == [f"bc-{r:03d}" for r in rows]
    assert all(set(it) == {"id", "text", "label", "row"} for it in cases)
    assert len({it["text"] for it in cases}) == 400
    everything = generate_breast_cancer(569, seed=3)
    assert sorted(it["row"] for it in everything) == list(range(569))
    assert len({it["text"] for it in everything}) == 569
    assert generate_breast_cancer(0, seed=0) == []


def test_breast_cancer_labels_are_the_data_diagnosis(cases):
    for it in cases:
        target = int(DATA.target[it["row"]])
        assert it["label"] == ("malignant" if target == 0 else "benign")
        assert DATA.target_names[target] == it["label"]
        assert BREAST_CANCER.gold(it) == it["label"]


@pytest.mark.parametrize("features", ["mean", "all"])
def test_breast_cancer_text_holds_the_row_values(features):
    for it in generate_breast_cancer(60, seed=1, features=features):
        numbers = [float(x) for x in re.findall(NUMBER, it["text"].split(":", 1)[1])]
        row = DATA.data[it["row"]]
        if features == "mean":
            expected = list(row[:10])
        else:  # mean (standard error, worst) per measurement
            expected = [row[j + k] for j in range(10) for k in (0, 10, 20)]
        assert numbers == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert all(m in it["text"] for m in MEASUREMENTS)


def test_breast_cancer_stratified_or_balanced(cases):
    assert Counter(it["label"] for it in cases)["malignant"] == round(400 * 212 / 569)
    for n in (10, 57, 569):
        malignant = sum(it["label"] == "malignant" for it in generate_breast_cancer(n, seed=2))
        assert malignant == round(n * 212 / 569)
    balanced = generate_breast_cancer(424, seed=0, balanced=True)
    assert Counter(it["label"] for it in balanced) == {"malignant": 212, "benign": 212}
    assert len(generate_breast_cancer(31, seed=0, balanced=True)) == 31


def test_breast_cancer_deterministic_and_short_by_default(cases):
    assert generate_breast_cancer(400, seed=0) == cases
    other = generate_breast_cancer(400, seed=1)
    assert [it["row"] for it in other] != [it["row"] for it in cases]
    mean_words = sum(len(it["text"].split()) for it in cases) / len(cases)
    all_words = sum(len(it["text"].split()) for it in generate_breast_cancer(50, 0, "all")) / 50
    assert mean_words < 40 < all_words


@pytest.mark.parametrize("kwargs", [
    {"n_items": 570}, {"n_items": -1}, {"n_items": 10, "features": "worst"},
    {"n_items": 425, "balanced": True}, {"n_items": 10, "balanced": "yes"},
])
def test_breast_cancer_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        generate_breast_cancer(seed=0, **kwargs)


@pytest.mark.parametrize(("completion", "label"), [
    ("malignant", "malignant"), ("Malignant.", "malignant"), ("benign", "benign"),
    ("BENIGN", "benign"), ("Cancer", "malignant"), ("carcinoma", "malignant"),
    ("not malignant", "benign"), ("Non-malignant", "benign"), ("no malignancy", "benign"),
    ("negative for malignancy", "benign"), ("not cancer", "benign"), ("unclear", None),
])
def test_breast_cancer_parse(completion, label):
    assert BREAST_CANCER.parse(completion) == label


# --- qSOFA ---------------------------------------------------------------------------------------

QSOFA_FIELDS = {"id", "text", "label", "qsofa", "criteria", "rr", "sbp", "dbp", "gcs", "hr",
                "temp_c", "spo2", "o2", "lactate", "wbc", "variant", "hard"}
ALTERED_WORDS = r"confus|disoriented|oriented x2|A&Ox2|self only|lethargic|somnolent|obtunded"
NORMAL_WORDS = (r"A&Ox3|AAOx4|alert and oriented x3|answering appropriately|"
                r"oriented, at baseline|normally")


@pytest.fixture(scope="module")
def notes() -> list[dict]:
    return generate_vitals(400, seed=0, typo_rate=0.0)


def read_note(text: str) -> tuple[int, int, bool]:
    """(RR, SBP, altered mentation) read from a note's text alone."""
    rr = re.findall(r"\b(?:RR|resp rate)\s+(\d+)", text)
    sbp = re.findall(r"\b(?:BP|SBP)\s+(\d+)", text)
    assert len(rr) == 1 and len(sbp) == 1, text
    gcs = re.findall(r"\bGCS (\d+)", text)
    if gcs:
        assert len(gcs) == 1
        altered = int(gcs[0]) < 15
    else:
        altered = bool(re.search(ALTERED_WORDS, text, re.IGNORECASE))
        assert altered != bool(re.search(NORMAL_WORDS, text, re.IGNORECASE)), text
    return int(rr[0]), int(sbp[0]), altered


def test_qsofa_counts_ids_fields_and_distinct(notes):
    assert len(notes) == 400
    assert [it["id"] for it in notes] == [f"qsofa-{i:05d}" for i in range(400)]
    assert all(set(it) == QSOFA_FIELDS for it in notes)
    assert len({it["text"] for it in notes}) == 400
    assert generate_vitals(0, seed=0) == []
    assert len({it["text"] for it in generate_vitals(2000, seed=2)}) == 2000


def test_qsofa_deterministic_and_balanced(notes):
    assert generate_vitals(400, seed=0, typo_rate=0.0) == notes
    other = generate_vitals(400, seed=1, typo_rate=0.0)
    assert not any(a["text"] == b["text"] for a, b in zip(notes, other, strict=True))
    assert Counter(it["label"] for it in notes) == {"positive": 200, "negative": 200}
    for n in (1, 33, 101):
        counts = Counter(it["label"] for it in generate_vitals(n, seed=3))
        assert abs(counts["positive"] - counts["negative"]) <= 1


def test_qsofa_label_follows_the_rule_from_values_and_from_text(notes):
    hard = generate_vitals(400, seed=5, hard_share=1.0, typo_rate=0.0)
    for it in notes + hard:
        score = (it["rr"] >= 22) + (it["sbp"] <= 100) + (it["gcs"] < 15)
        assert it["qsofa"] == score
        assert it["label"] == ("positive" if score >= 2 else "negative")
        assert SEPSIS_QSOFA.gold(it) == it["label"]
        assert it["criteria"] == [c for c, met in (("rr", it["rr"] >= 22),
                                                   ("sbp", it["sbp"] <= 100),
                                                   ("mentation", it["gcs"] < 15)) if met]
        rr, sbp, altered = read_note(it["text"])
        assert (rr, sbp, altered) == (it["rr"], it["sbp"], it["gcs"] < 15), it
        assert 3 <= it["gcs"] <= 15 and it["sbp"] > it["dbp"] > 20 and 8 <= it["rr"] <= 40
        # the labs the item records are the ones its text shows
        for key, pattern in (("lactate", r"(?:Lactate|lactate|Lactic acid) (\d+\.\d)"),
                             ("wbc", r"WBC (\d+\.\d)")):
            shown = re.findall(pattern, it["text"])
            assert shown == ([] if it[key] is None else [str(it[key])]), it
    assert {it["qsofa"] for it in notes} == {0, 1, 2, 3}


def test_qsofa_hard_items_sit_on_thresholds_and_carry_distractors():
    hard = generate_vitals(400, seed=7, hard_share=1.0, typo_rate=0.0)
    assert all(it["hard"] for it in hard)
    assert Counter((it["label"], it["variant"]) for it in hard).keys() == {
        ("positive", "threshold"), ("positive", "bland"), ("negative", "threshold"),
        ("negative", "sirs_mimic")}
    threshold = [it for it in hard if it["variant"] == "threshold"]
    for it in threshold:  # one met criterion at its cut-off, the unmet ones just short of it
        met = set(it["criteria"])
        assert {"rr"} & met and it["rr"] in (22, 23) or {"sbp"} & met and it["sbp"] in (
            99, 100) or {"mentation"} & met and it["gcs"] == 14, it
        assert "rr" in met or it["rr"] in (20, 21)
        assert "sbp" in met or it["sbp"] in (101, 102, 104)
        assert "mentation" in met or "GCS 15" in it["text"]
    values = Counter()
    for it in threshold:
        values.update({f"rr{it['rr']}", f"sbp{it['sbp']}", f"gcs{it['gcs']}"})
    assert all(values[v] > 5 for v in ("rr21", "rr22", "sbp100", "sbp101", "gcs14", "gcs15"))
    for it in hard:
        if it["variant"] == "sirs_mimic":  # sick-looking yet qSOFA < 2
            assert it["label"] == "negative"
            assert it["hr"] > 100 and (it["temp_c"] >= 38 or it["temp_c"] < 36)
            assert (it["lactate"] or 0) > 2 or not 4 <= (it["wbc"] or 8) <= 12
        if it["variant"] == "bland":
            assert it["label"] == "positive"
            assert it["hr"] < 100 and 36 <= it["temp_c"] < 38


def test_qsofa_hard_share_and_gcs_components():
    assert not any(it["hard"] for it in generate_vitals(100, seed=1, hard_share=0.0))
    some = generate_vitals(200, seed=1, hard_share=0.3)
    assert sum(it["hard"] for it in some) == 60
    for it in generate_vitals(400, seed=8):
        parts = re.search(r"GCS (\d+) \(E(\d)V(\d)M(\d)\)", it["text"])
        if parts:
            gcs, e, v, m = map(int, parts.groups())
            assert gcs == e + v + m == it["gcs"]


def test_qsofa_typos_never_alter_values():
    clean = generate_vitals(300, seed=6, typo_rate=0.0)
    noisy = generate_vitals(300, seed=6, typo_rate=0.3)
    for a, b in zip(clean, noisy, strict=True):
        assert {k: v for k, v in a.items() if k != "text"} == {
            k: v for k, v in b.items() if k != "text"}
        assert re.findall(r"\S*\d\S*", a["text"]) == re.findall(r"\S*\d\S*", b["text"])
    assert sum(a["text"] != b["text"] for a, b in zip(clean, noisy, strict=True)) > 250


@pytest.mark.parametrize("kwargs", [
    {"n_items": -1}, {"n_items": 10, "hard_share": 1.2}, {"n_items": 10, "typo_rate": -0.5},
])
def test_qsofa_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        generate_vitals(seed=0, **kwargs)


@pytest.mark.parametrize(("completion", "label"), [
    ("positive", "positive"), ("Positive.", "positive"), ("negative", "negative"),
    ("NEGATIVE", "negative"), ("qSOFA positive", "positive"), ("qSOFA-negative", "negative"),
    ("not positive", "negative"), ("Low risk", "negative"), ("high-risk", "positive"),
    ("qSOFA >= 2", "positive"), ("qSOFA < 2", "negative"), ("sepsis", None), ("", None),
])
def test_qsofa_parse(completion, label):
    assert SEPSIS_QSOFA.parse(completion) == label


# --- both --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "generator"), [
    (BREAST_CANCER, generate_breast_cancer), (SEPSIS_QSOFA, generate_vitals)])
def test_task_prompt_and_completion(task, generator):
    assert task.family == "numeric_classification" and task.kind == "label"
    assert task.build_items is generator
    for it in generator(20, 0):
        messages = task.prompt_messages(it)
        assert [m["role"] for m in messages] == ["system", "user"]
        assert it["text"] in messages[1]["content"]
        assert all(label in messages[1]["content"] for label in task.labels)
        assert task.parse(task.completion(it)) == it["label"]
        assert task.score(it, task.labels[0])["score"] == int(it["label"] == task.labels[0])
        assert task.stratum(it) == it["label"]
    assert len(task.instruction.split()) < 60
