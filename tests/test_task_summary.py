"""The summarization task: the key-fact rubric, ROUGE-L, parsing, degraders and the generator."""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter

import pytest

from sftdpo.tasks.rubric import (
    _fact,
    _sides,
    _tokens,
    fact_status,
    grade_from,
    rubric_grade,
    word_count,
)
from sftdpo.tasks.summary import (
    HOSPITAL_COURSE,
    SummaryTask,
    key_facts_of,
    parse_summary,
    rouge_l,
)
from sftdpo.tasks.summary_degraders import contradict_fact, drop_key_facts
from sftdpo.tasks.summary_notes import (
    HARD_VARIANTS,
    MESSAGE_DISTRACTORS,
    MESSAGE_SCENARIOS,
    NOTE_DISTRACTORS,
    NOTE_SCENARIOS,
    SCENARIOS,
    generate_notes,
)

N = 300


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return generate_notes(N, seed=0)


# --- the rubric ------------------------------------------------------------------------------

FACTS = ["no PE on CTA", "discharged on furosemide 40 mg PO BID",
         "right lower extremity cellulitis", "cardiology follow-up in 1 week with BMP",
         "started apixaban 5 mg BID"]
REF = ("72F admitted with RLE cellulitis; CTA negative for PE. Discharged on furosemide 40 mg PO "
       "BID (home 20 mg daily) and started apixaban 5 mg BID. Cardiology follow-up in 1 week "
       "with BMP.")


def grade(summary, facts=FACTS, **kwargs) -> dict:
    return rubric_grade(summary, facts, **kwargs)


def test_reference_and_paraphrase_get_5():
    assert grade(REF)["grade"] == 5
    paraphrase = ("Pt with right leg cellulitis. No pulmonary embolism on CT angiogram. At "
                  "discharge Lasix was 40 mg twice daily by mouth and Eliquis 5 mg b.i.d. was "
                  "started. F/u with cardiologist in one wk with a BMP.")
    result = grade(paraphrase)
    assert result["status"] == ["covered"] * 5, result
    assert (result["grade"], result["contradictions"], result["facts_covered"]) == (5, 0, 5)


@pytest.mark.parametrize(("kept", "expected"), [(5, 5), (4, 4), (3, 3), (2, 2), (1, 1), (0, 1)])
def test_missing_facts_lower_the_grade_by_band(kept, expected):
    sentences = ["Right lower extremity cellulitis.", "CTA negative for PE.",
                 "Discharged on furosemide 40 mg PO BID.", "Started apixaban 5 mg BID.",
                 "Cardiology follow-up in 1 week with BMP."]
    summary = " ".join(sentences[:kept]) or "Patient was admitted and discharged."
    result = grade(summary)
    assert result["facts_covered"] == kept
    assert result["grade"] == expected


def test_grade_bands_and_penalties():
    assert [grade_from(c, 4, 0, False) for c in (4, 3, 2, 1, 0)] == [5, 4, 3, 2, 1]
    assert grade_from(5, 6, 0, False) == 4  # 0.83
    assert grade_from(4, 6, 0, False) == 3  # 0.67
    assert grade_from(4, 4, 1, False) == 4
    assert grade_from(4, 4, 2, True) == 2
    assert grade_from(1, 4, 3, True) == 1  # floor


@pytest.mark.parametrize(("old", "new", "fact", "why"), [
    ("furosemide 40 mg", "furosemide 80 mg", 1, "number"),
    ("1 week", "3 weeks", 3, "number"),
    ("apixaban 5 mg", "apixaban 2.5 mg", 4, "number"),
    ("negative for PE", "positive for PE", 0, "negation"),
    ("CTA negative for PE", "CTA showed a PE", 0, "negation"),
    ("started apixaban", "did not start apixaban", 4, "negation"),
    ("and started apixaban 5 mg BID", "and apixaban 5 mg BID was not started", 4, "negation"),
    ("RLE", "LLE", 2, "side"),
    ("RLE", "left leg", 2, "side"),
    ("started apixaban", "stopped apixaban", 4, "on_off"),
])
def test_contradictions_are_found_and_cost_a_grade(old, new, fact, why):
    assert old in REF
    result = grade(REF.replace(old, new))
    assert result["status"][fact] == "contradicted", result
    assert why in result["reasons"][fact]
    assert result["contradictions"] == 1
    assert result["grade"] == 3  # 4 of 5 covered -> 4, minus one contradiction


def test_direction_flip_is_a_contradiction():
    facts = ["glargine reduced to 18 units nightly after hypoglycemia"]
    assert grade("Glargine reduced to 18 units nightly after hypoglycemia.", facts)["grade"] == 5
    flipped = grade("Glargine increased to 18 units nightly after hypoglycemia.", facts)
    assert flipped["status"] == ["contradicted"] and flipped["grade"] == 1


def test_no_false_contradictions():
    # an old dose left out: missing, not contradicted
    facts = ["furosemide increased from 20 mg daily to 40 mg BID"]
    assert grade("Furosemide 40 mg BID.", facts)["status"] == ["missing"]
    # another drug's dose in the same clause
    facts = ["spironolactone 25 mg daily"]
    assert grade("Furosemide 40 mg BID and spironolactone 25 mg daily.", facts)["grade"] == 5
    assert grade("Furosemide 40 mg daily.", facts)["status"] == ["missing"]
    # a negation elsewhere in the sentence
    facts = ["started apixaban 5 mg BID"]
    assert grade("No bleeding; started apixaban 5 mg BID.", facts)["grade"] == 5
    assert grade("No bleeding on apixaban 5 mg BID, started this admission.",
                 facts)["contradictions"] == 0
    # negative results said another way
    assert grade("Blood cultures showed no growth.", ["blood cultures negative"])["grade"] == 5
    assert grade("CTA without PE.", ["CTA negative for PE"])["grade"] == 5
    assert grade("No chest pain.", ["chest pain resolved"])["grade"] == 5
    assert grade("Haven't had any lows.", ["no hypoglycemia"])["grade"] == 5
    assert grade("Diuresed with IV Lasix (net negative 4.1 L).",
                 ["diuresed with IV furosemide (net -4.1 L)"])["grade"] == 5
    assert grade("No change in furosemide 40 mg BID.",
                 ["discharged on furosemide 40 mg BID"])["grade"] == 5
    assert grade("Dapagliflozin not covered by insurance, empagliflozin 10 mg daily started "
                 "instead.", ["empagliflozin 10 mg daily started instead of dapagliflozin "
                              "(insurance)"])["grade"] == 5
    # a number with another unit is not the fact's number
    assert grade("Gap closed in 21 hours; glargine 25 units nightly.",
                 ["glargine 21 units nightly"])["status"] == ["contradicted"]
    # sides of different facts in different clauses
    facts = ["left ICA 80% stenosis", "TIA with right arm weakness"]
    assert grade("TIA with right arm weakness; left ICA 80% stenosis.", facts)["grade"] == 5


def test_negation_added_to_the_predicate():
    facts = ["iron studies pending", "patient has a penicillin allergy"]
    result = grade("Iron studies not pending. No penicillin allergy.", facts)
    assert result["status"] == ["contradicted", "contradicted"]
    assert grade("Iron studies pending; penicillin allergy.", facts)["grade"] == 5


def test_drug_and_side_are_required_for_coverage():
    assert grade("Discharged on torsemide 40 mg PO BID.",
                 ["discharged on furosemide 40 mg PO BID"])["status"] == ["missing"]
    assert grade("Lower extremity cellulitis.",
                 ["right lower extremity cellulitis"])["status"] == ["missing"]


@pytest.mark.parametrize("summary", [None, "", "   ", "...", "123 456"])
def test_no_summary_is_grade_1(summary):
    result = grade(summary)
    assert (result["grade"], result["facts_covered"], result["facts_total"]) == (1, 0, 5)


def test_over_long_costs_a_grade():
    assert grade(REF, max_words=20)["grade"] == 4
    assert grade(REF, source="Short note about RLE cellulitis.")["grade"] == 4
    assert grade(REF, source=REF + " More.")["grade"] == 5
    padded = REF + " The patient was seen daily." * 10
    assert word_count(padded) > 80 and grade(padded)["grade"] == 4


def test_key_facts_as_plain_strings():
    assert key_facts_of({"key_facts": "no PE on CTA\nstarted apixaban"}) == [
        "no PE on CTA", "started apixaban"]
    assert key_facts_of({"key_facts": "a | b"}) == ["a", "b"]
    assert key_facts_of({"key_facts": "a; b"}) == ["a", "b"]
    assert key_facts_of({"key_facts": [" a ", "", "b"]}) == ["a", "b"]
    with pytest.raises(ValueError):
        key_facts_of({"id": "x", "key_facts": " "})
    with pytest.raises(ValueError):
        rubric_grade("anything", [])


# --- task, parse, ROUGE ----------------------------------------------------------------------


def test_task_contract(items):
    item = items[0]
    assert HOSPITAL_COURSE.kind == "summary"
    assert HOSPITAL_COURSE.metrics == ("likert", "rouge_l")
    assert HOSPITAL_COURSE.default_pair_strategy == "degraded_summary"
    assert HOSPITAL_COURSE.default_max_new_tokens == 96
    assert HOSPITAL_COURSE.family == "summarization"
    assert HOSPITAL_COURSE.gold(item) == HOSPITAL_COURSE.completion(item) == item["reference"]
    system, user = HOSPITAL_COURSE.prompt_messages(item)
    assert system == {"role": "system", "content": HOSPITAL_COURSE.instruction}
    assert user["role"] == "user" and user["content"].startswith(item["text"].strip())
    assert user["content"].endswith("Summarize in at most 4 sentences.")
    assert HOSPITAL_COURSE.candidates(item) is None
    assert HOSPITAL_COURSE.stratum(item) == item["scenario"]
    assert HOSPITAL_COURSE.stratum({"text": "x"}) == "all"


def test_score_of_reference_and_of_none(items):
    for item in items[:20]:
        best = HOSPITAL_COURSE.score(item, HOSPITAL_COURSE.parse(item["reference"], item))
        n = len(item["key_facts"])
        assert best == {"score": 5, "rouge_l": 1.0, "facts_covered": n, "facts_total": n,
                        "contradictions": 0}
        assert HOSPITAL_COURSE.score(item, None) == {
            "score": 1, "rouge_l": 0.0, "facts_covered": 0, "facts_total": n,
            "contradictions": 0}


def test_rouge_l():
    assert rouge_l(REF, REF) == 1.0
    assert rouge_l(None, REF) == 0.0 == rouge_l("", REF)
    assert 0.0 < rouge_l("Discharged on furosemide 40 mg.", REF) < 1.0
    assert rouge_l("Zebra.", REF) == 0.0


@pytest.mark.parametrize(("completion", "parsed"), [
    ("  Pt admitted with CHF.  ", "Pt admitted with CHF."),
    ("Summary: Pt admitted with CHF.", "Pt admitted with CHF."),
    ("**Summary:** Pt admitted\nwith CHF.", "Pt admitted with CHF."),
    ("Pt admitted with CHF. Discharged on furosemide 4", "Pt admitted with CHF."),
    ("Cr 2.1 at discharge. Repeat BMP in 3", "Cr 2.1 at discharge."),
    ("Pt admitted with CHF and discharged home", "Pt admitted with CHF and discharged home"),
    ("Pt admitted with CHF. Discharged on furosemide and", "Pt admitted with CHF."),
    ("Pt admitted with CHF. F/u PCP in 1 week", "Pt admitted with CHF. F/u PCP in 1 week"),
    ("", None), ("   \n ", None), ("...", None), ("12 34", None),
])
def test_parse(completion, parsed):
    assert parse_summary(completion) == parsed
    assert HOSPITAL_COURSE.parse(completion, {}) == parsed


def test_task_over_user_data_and_a_replaced_grader():
    task = SummaryTask(name="mine", family="summarization", description="d", instruction="i")
    assert task.build_items is None
    item = {"id": "u1", "text": "Long note " * 30, "reference": REF,
            "key_facts": "\n".join(FACTS)}
    assert task.score(item, REF)["score"] == 5
    assert task.score(item, "Pt admitted.")["score"] == 1

    def judge(summary, key_facts, *, source=None, max_words=80):
        return {"grade": 3, "facts_covered": 2, "facts_total": len(key_facts),
                "contradictions": 0}
    judged = dataclasses.replace(task, grader=judge).score(item, REF)
    assert judged["score"] == 3 and judged["facts_total"] == 5


# --- degraders -------------------------------------------------------------------------------


def test_degraders_lower_the_grade_of_every_item(items):
    reasons = Counter()
    for item in items:
        base = rubric_grade(item["reference"], item["key_facts"])
        contradicted = contradict_fact(item, random.Random(item["id"]))
        result = rubric_grade(contradicted, item["key_facts"])
        assert result["grade"] < base["grade"], (item["id"], contradicted)
        assert result["contradictions"] + (base["facts_covered"] - result["facts_covered"]) >= 1
        reasons.update(r.split(":")[0].split()[0] for r in result["reasons"] if r)
        dropped = drop_key_facts(item, random.Random(item["id"]))
        result = rubric_grade(dropped, item["key_facts"])
        assert result["grade"] < base["grade"] and result["contradictions"] == 0
        assert len(dropped) < len(item["reference"]) and dropped.endswith(".")
    # every kind of contradiction occurs
    assert {"number", "negation", "side", "on_off", "dose"} <= set(reasons), reasons


def test_degraders_are_deterministic_and_differ_from_the_reference(items):
    for item in items[:30]:
        for make in (contradict_fact, drop_key_facts):
            a = make(item, random.Random(1))
            assert a == make(item, random.Random(1))
            assert a != item["reference"]
    assert drop_key_facts(items[0], random.Random(0), n=2) != items[0]["reference"]


def test_degraders_on_user_data():
    item = {"id": "u", "reference": REF, "key_facts": "\n".join(FACTS)}
    for seed in range(10):
        rng = random.Random(seed)
        for make in (contradict_fact, drop_key_facts):
            text = make(item, rng)
            assert rubric_grade(text, FACTS)["grade"] < 5
    one_sentence = {"reference": "Admitted with right leg cellulitis, started apixaban 5 mg BID "
                                 "and discharged home.",
                    "key_facts": ["right leg cellulitis", "started apixaban 5 mg BID"]}
    dropped = drop_key_facts(one_sentence, random.Random(0))
    assert rubric_grade(dropped, one_sentence["key_facts"])["grade"] < 5
    unrelated = {"id": "bad", "reference": "Patient did well.", "key_facts": ["no PE on CTA"]}
    for make in (contradict_fact, drop_key_facts):
        with pytest.raises(ValueError, match="bad"):
            make(unrelated, random.Random(0))
    nothing_to_flip = {"reference": "Seen by nutrition. Likes tea.",
                       "key_facts": ["seen by nutrition"]}
    with pytest.raises(ValueError):
        contradict_fact(nothing_to_flip, random.Random(0))


# --- the generator ---------------------------------------------------------------------------


def test_counts_ids_and_distinct_texts(items):
    assert len(items) == N
    assert [it["id"] for it in items] == [f"note-{i:05d}" for i in range(N)]
    assert len({it["text"] for it in items}) == N
    keys = {"id", "text", "reference", "key_facts", "scenario", "hard", "variant"}
    assert all(set(it) == keys for it in items)
    assert generate_notes(0, seed=0) == []
    assert len(generate_notes(7, seed=5)) == 7


def test_deterministic_per_seed(items):
    assert generate_notes(N, seed=0) == items
    other = generate_notes(N, seed=1)
    assert sum(a["text"] == b["text"] for a, b in zip(items, other, strict=True)) == 0


def test_shares_are_exact_and_balanced(items):
    hard = [it for it in items if it["hard"]]
    assert len(hard) == round(0.3 * N)
    assert all(bool(it["variant"]) == it["hard"] for it in items)
    variants = Counter(it["variant"] for it in hard)
    assert set(variants) == set(HARD_VARIANTS)
    assert max(variants.values()) - min(variants.values()) <= 1
    messages = Counter(it["scenario"] for it in items if it["scenario"] in MESSAGE_SCENARIOS)
    notes = Counter(it["scenario"] for it in items if it["scenario"] in NOTE_SCENARIOS)
    assert sum(messages.values()) == round(0.25 * N)
    assert set(messages) | set(notes) == set(SCENARIOS)
    assert max(notes.values()) - min(notes.values()) <= 1
    assert max(messages.values()) - min(messages.values()) <= 1
    plain = generate_notes(40, seed=2, hard_share=0.0, message_share=0.0)
    assert not any(it["hard"] for it in plain)
    assert all(it["scenario"] in NOTE_SCENARIOS for it in plain)
    every = generate_notes(45, seed=2, hard_share=1.0, message_share=1.0)
    assert all(it["hard"] and it["scenario"] in MESSAGE_SCENARIOS for it in every)


@pytest.mark.parametrize("kwargs", [{"hard_share": 1.2}, {"noise": -0.1},
                                    {"message_share": 2.0}, {"n_items": -1}])
def test_bad_settings_raise(kwargs):
    settings = {"n_items": 5, "seed": 0} | kwargs
    with pytest.raises(ValueError):
        generate_notes(**settings)


def test_lengths(items):
    notes = [word_count(it["text"]) for it in items]
    refs = [word_count(it["reference"]) for it in items]
    assert 100 <= sum(notes) / N <= 150 and min(notes) >= 70 and max(notes) <= 190
    assert 38 <= sum(refs) / N <= 55 and min(refs) >= 30 and max(refs) <= 65
    for it in items:
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", it["reference"])
        assert 2 <= len(sentences) <= 4, it["reference"]
        assert 4 <= len(it["key_facts"]) <= 6
        assert word_count(it["reference"]) < word_count(it["text"])


def test_reference_covers_every_key_fact_and_grades_5(items):
    for it in items:
        for fact in it["key_facts"]:
            assert fact_status(it["reference"], fact) == "covered", (it["id"], fact)
        assert HOSPITAL_COURSE.score(it, it["reference"])["score"] == 5, it["id"]


def test_key_fact_numbers_are_in_the_note(items):
    """The reference invents no number: every number of a key fact is in the note."""
    for it in items:
        note = it["text"].replace(",", "")
        for fact in it["key_facts"]:
            for number in re.findall(r"\d+(?:\.\d+)?", fact):
                assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)", note), (
                    it["id"], fact, number)


def test_key_fact_drugs_and_sides_are_in_the_note(items):
    """The reference invents no drug and no side (brand names count: Keflex = cephalexin)."""
    for it in items:
        note = _tokens(it["text"])
        words = {t.norm for t in note}
        for fact in it["key_facts"]:
            parsed = _fact(fact)
            assert parsed.drugs <= words, (it["id"], fact)
            assert {s for s in parsed.sides if s[0] == "side"} <= _sides(note), (it["id"], fact)


def test_hard_variants(items):
    clean = generate_notes(N, seed=0, noise=0.0)
    for it in clean:
        if it["variant"] == "negated_finding":
            negated = [f for f in it["key_facts"] if re.search(
                r"\b(no|negative|ruled out|without|denies)\b", f, re.I)]
            assert negated, it["key_facts"]
            for fact in negated:  # the summary must keep it negative
                flipped = re.sub(r"\b(no|without|denies) |\bruled out\b|\bnegative for\b",
                                 lambda m: "confirmed" if m.group(0) == "ruled out" else
                                 "positive for" if m.group(0).startswith("negative") else "",
                                 fact, flags=re.I)
                assert fact_status(flipped, fact) == "contradicted", (fact, flipped)
        if it["variant"] == "distractor":
            pool = [t for _, t in NOTE_DISTRACTORS] + list(MESSAGE_DISTRACTORS)
            openings = {t.split("{")[0][:25].lower() for t in pool}
            assert sum(o in it["text"].lower() for o in openings) >= 2, it["text"]
        if it["variant"] == "changed_plan" and it["scenario"] == "dka":
            final = re.search(r"reduced to (\d+) units", it["reference"]).group(1)
            first = re.search(r"glargine (\d+) units qHS", it["text"]).group(1)
            wrong = it["reference"].replace(f"to {final} units", f"to {first} units")
            assert rubric_grade(wrong, it["key_facts"])["contradictions"] == 1


def test_noise_changes_only_the_note(items):
    clean = generate_notes(N, seed=0, noise=0.0)
    noisy = generate_notes(N, seed=0, noise=0.3)
    for a, b, c in zip(clean, items, noisy, strict=True):
        assert a["reference"] == b["reference"] == c["reference"]
        assert a["key_facts"] == c["key_facts"] and a["scenario"] == c["scenario"]
        assert word_count(a["text"]) == word_count(c["text"])
    assert sum(a["text"] != c["text"] for a, c in zip(clean, noisy, strict=True)) > 0.9 * N


def test_default_task_builds_items():
    assert HOSPITAL_COURSE.build_items is generate_notes
    assert HOSPITAL_COURSE.build_items(3, seed=0) == generate_notes(3, seed=0)
