"""The synthetic chest-imaging report generator and the acute/non-acute task built on it."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from sftdpo.tasks.radiology import (
    ACUTE_VARIANTS,
    NON_ACUTE_VARIANTS,
    RADIOLOGY_FINDING,
    generate_reports,
)

# The rule, written out again independently of the module: acute findings asserted present
# (new, worse or uncompared) or hedged make an item acute; nothing else does.
ACUTE = {"pneumothorax", "pneumonia", "effusion", "edema", "fracture", "free_air",
         "tube_malposition", "pe"}
COUNTS = {"present", "worse", "hedged"}
FIELDS = {"id", "text", "label", "finding", "assertion", "variant", "hard", "modality",
          "mentions"}
# Words that a text must carry for the deciding mention's assertion (checked without typos).
CUES = {
    "hedged": r"possibl|cannot exclude|may represent|\bvs\b|not excluded|questionable|equivocal",
    "worse": r"increase|enlarging|worsening|progressed",
    "stable": r"stable|unchanged|improving|decreas|persistent|similar",
    "resolved": r"resol|cleared|no longer|repositioned|retracted",
    "chronic": r"chronic|healed|remote|sequela",
    "historical": r"^(Indication|Hx|History|Clinical history)\b",
    "negated": r"\bNo\b|without|satisfactory|above the carina|in the stomach|cavoatrial|sharp",
}
KEYWORDS = re.compile(
    r"pneumothorax|PTX|effusion|consolidation|pneumonia|PNA|opacit|edema|congestion|fracture|"
    r"\bfx\b|free air|pneumoperitoneum|\bPE\b|embol|filling defect|infiltrate|mainstem|coiled",
    re.IGNORECASE)


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return generate_reports(400, seed=0)


@pytest.fixture(scope="module")
def hard_items() -> list[dict]:
    return generate_reports(400, seed=1, hard_share=1.0, typo_rate=0.0)


def rule(mentions: list[str]) -> str:
    acute = any(f in ACUTE and a in COUNTS for f, a in (m.split(":") for m in mentions))
    return "acute" if acute else "non-acute"


def test_exact_count_unique_ids_and_texts(items):
    assert len(items) == 400
    assert [it["id"] for it in items] == [f"rad-{i:05d}" for i in range(400)]
    assert len({it["text"] for it in items}) == 400
    assert all(set(it) == FIELDS for it in items)
    assert all(it["text"].strip() and it["mentions"] for it in items)
    assert generate_reports(0, seed=0) == []
    assert len(generate_reports(7, seed=5)) == 7
    assert len({it["text"] for it in generate_reports(2000, seed=2)}) == 2000


def test_deterministic_per_seed(items):
    assert generate_reports(400, seed=0) == items
    other = generate_reports(400, seed=1)
    assert sum(a["text"] == b["text"] for a, b in zip(items, other, strict=True)) < 10


def test_labels_balanced(items):
    assert Counter(it["label"] for it in items) == {"acute": 200, "non-acute": 200}
    for n in (1, 21, 97):
        counts = Counter(it["label"] for it in generate_reports(n, seed=3))
        assert abs(counts["acute"] - counts["non-acute"]) <= 1
    assert all(RADIOLOGY_FINDING.stratum(it) == it["label"] for it in items)


def test_label_follows_the_written_rule(items, hard_items):
    for it in items + hard_items:
        assert rule(it["mentions"]) == it["label"], it
        assert RADIOLOGY_FINDING.gold(it) == it["label"]
        deciding = (it["finding"] in ACUTE and it["assertion"] in COUNTS)
        assert deciding == (it["label"] == "acute"), it
    # every assertion shows up, and non-acute items carry acute findings in every other guise
    assertions = Counter(m.split(":")[1] for it in hard_items for m in it["mentions"])
    assert set(assertions) == {"present", "worse", "hedged", "negated", "stable", "resolved",
                               "chronic", "historical"}
    guises = {it["assertion"] for it in hard_items
              if it["label"] == "non-acute" and it["finding"] in ACUTE}
    assert guises == {"negated", "stable", "resolved", "chronic", "historical"}


def test_text_carries_the_deciding_assertion():
    for it in generate_reports(2000, seed=11, hard_share=1.0, typo_rate=0.0):
        if it["finding"] not in ACUTE or it["assertion"] == "present":
            continue
        assert re.search(CUES[it["assertion"]], it["text"], re.IGNORECASE), it


def test_a_finding_is_stated_once_and_modality_fits(items, hard_items):
    for it in items + hard_items:
        current = [m.split(":")[0] for m in it["mentions"]
                   if not m.endswith(":historical") and m.split(":")[0] in ACUTE]
        assert len(current) == len(set(current)), it
        findings = {m.split(":")[0] for m in it["mentions"]}
        if "pe" in findings:
            assert it["modality"] == "ct"
        if findings & {"free_air", "tube_malposition"}:
            assert it["modality"] == "cxr"
        if it["label"] == "acute":
            assert not re.search(r"No acute (cardiopulmonary|intrathoracic|findings)", it["text"])


def test_hard_share_controls_hard_variants(hard_items):
    none = generate_reports(200, seed=4, hard_share=0.0)
    some = generate_reports(200, seed=4, hard_share=0.3)
    assert not any(it["hard"] for it in none)
    assert {it["variant"] for it in none} == {"easy"}
    assert all(it["hard"] for it in hard_items)
    assert sum(it["hard"] for it in some) == 60
    hard_by_label = Counter(it["label"] for it in some if it["hard"])
    assert abs(hard_by_label["acute"] - hard_by_label["non-acute"]) <= 1
    variants = {(it["label"], it["variant"]) for it in hard_items}
    assert variants == ({("acute", v) for v in ACUTE_VARIANTS}
                        | {("non-acute", v) for v in NON_ACUTE_VARIANTS})


def _sentence_baseline(text: str) -> str:
    """Acute when a sentence names an acute finding and does not open with a negation."""
    for sentence in re.split(r"(?<=[.;])\s+", text):
        sentence = re.sub(r"^[A-Za-z /]+:\s*|^\d\.\s*", "", sentence)
        if (KEYWORDS.search(sentence) and "without" not in sentence
                and not re.match(r"(No|Indication|Hx|History|Clinical)\b", sentence)):
            return "acute"
    return "non-acute"


def test_hard_items_defeat_keyword_rules(hard_items):
    easy = generate_reports(400, seed=1, hard_share=0.0, typo_rate=0.0)

    def accuracy(rows, classify):
        return sum(classify(it["text"]) == it["label"] for it in rows) / len(rows)

    def keyword(text):
        return "acute" if KEYWORDS.search(text) else "non-acute"

    assert accuracy(easy, _sentence_baseline) > 0.9
    assert accuracy(hard_items, _sentence_baseline) < 0.85
    assert accuracy(hard_items, keyword) < 0.65


def test_typos_leave_labels_and_digits_alone():
    clean = generate_reports(300, seed=6, typo_rate=0.0)
    noisy = generate_reports(300, seed=6, typo_rate=0.3)
    changed = 0
    for a, b in zip(clean, noisy, strict=True):
        assert {k: v for k, v in a.items() if k != "text"} == {
            k: v for k, v in b.items() if k != "text"}
        assert re.findall(r"\S*\d\S*", a["text"]) == re.findall(r"\S*\d\S*", b["text"])
        changed += a["text"] != b["text"]
    assert changed > 200


@pytest.mark.parametrize("kwargs", [
    {"n_items": -1}, {"n_items": 10, "hard_share": 1.5}, {"n_items": 10, "hard_share": -0.1},
    {"n_items": 10, "typo_rate": 2.0},
])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        generate_reports(seed=0, **kwargs)


@pytest.mark.parametrize(("completion", "label"), [
    ("acute", "acute"), ("Acute.", "acute"), ("ACUTE", "acute"), ("non-acute", "non-acute"),
    ("Non-acute", "non-acute"), ("nonacute", "non-acute"), ("not acute", "non-acute"),
    ("No acute findings.", "non-acute"), ("This is not an acute finding", "non-acute"),
    ("Negative", "non-acute"), ("normal", "non-acute"), ("positive", "acute"),
    ("Answer: acute finding", "acute"), ("pneumothorax", None), ("", None),
])
def test_parse(completion, label):
    assert RADIOLOGY_FINDING.parse(completion) == label


def test_task_prompt_and_completion(items):
    task = RADIOLOGY_FINDING
    assert (task.name, task.family, task.kind) == ("radiology_finding", "text_classification",
                                                   "label")
    assert task.build_items is generate_reports
    for it in items[:20]:
        messages = task.prompt_messages(it)
        assert [m["role"] for m in messages] == ["system", "user"]
        assert it["text"] in messages[1]["content"]
        assert all(label in messages[1]["content"] for label in task.labels)
        assert task.parse(task.completion(it)) == it["label"]
        assert task.score(it, it["label"]) == {"score": 1}
    assert len(task.instruction.split()) < 80
