"""The clinical case-vignette generator and the choice task that answers it."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from sftdpo.tasks.choice import ChoiceTask, normalise
from sftdpo.tasks.reasoning import (
    CLINICAL_REASONING,
    DIAGNOSES,
    MAX_WORDS,
    MIN_WORDS,
    generate_vignettes,
    lookalikes_for,
)
from sftdpo.tasks.reasoning_conditions import CONDITION_BY_KEY, CONDITIONS, STEPS

TASK = CLINICAL_REASONING


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return generate_vignettes(600, seed=0)


def mc(items, question="diagnosis"):
    return [it for it in items if it["form"] == "multiple_choice" and it["question"] == question]


def free(items, question="diagnosis"):
    return [it for it in items if it["form"] == "free_response" and it["question"] == question]


# --- the generator ---------------------------------------------------------------------------

def test_exact_count_ids_fields_and_distinct_texts(items):
    assert len(items) == 600
    assert [it["id"] for it in items] == [f"reasoning-{i:05d}" for i in range(600)]
    assert len({it["text"] for it in items}) == 600
    fields = {"id", "text", "label", "options", "answers", "form", "question", "condition",
              "system", "hard", "variant"}
    assert all(set(it) == fields for it in items)
    assert generate_vignettes(0, seed=0) == []
    assert len(generate_vignettes(7, seed=5)) == 7


def test_deterministic_per_seed(items):
    assert generate_vignettes(600, seed=0) == items
    other = generate_vignettes(600, seed=1)
    assert sum(a["text"] == b["text"] for a, b in zip(items, other, strict=True)) == 0


def test_exact_shares_of_forms_questions_hard_and_conditions(items):
    forms = Counter(it["form"] for it in items)
    assert forms == {"multiple_choice": 300, "free_response": 300}
    assert Counter(it["question"] for it in items) == {"diagnosis": 300, "next_step": 300}
    assert sum(it["hard"] for it in items) == 180
    per_condition = Counter(it["condition"] for it in items)
    assert set(per_condition) == set(CONDITION_BY_KEY)
    assert max(per_condition.values()) - min(per_condition.values()) <= 1
    odd = generate_vignettes(41, seed=3, hard_share=0.5, free_response_share=0.25,
                             question="next_step")
    assert sum(it["form"] == "free_response" for it in odd) == round(41 * 0.25)
    assert sum(it["hard"] for it in odd) == round(41 * 0.5)
    assert {it["question"] for it in odd} == {"next_step"}
    easy = generate_vignettes(60, seed=3, hard_share=0.0, free_response_share=1.0)
    assert not any(it["hard"] or it["variant"] for it in easy)
    assert all(it["options"] == [] for it in easy)


def test_hard_items_name_their_variant(items):
    variants = Counter(it["variant"] for it in items if it["hard"])
    assert set(variants) == {"atypical", "distractor", "lookalike"}
    assert all(it["variant"] is None for it in items if not it["hard"])


def test_vignettes_are_concise_and_fully_filled(items):
    for it in items:
        words = len(it["text"].split())
        assert MIN_WORDS <= words <= MAX_WORDS, (words, it["text"])
        assert "{" not in it["text"] and "}" not in it["text"]
        assert it["text"].endswith("?")
        assert "  " not in it["text"] and " ." not in it["text"]
    assert 70 <= sum(len(it["text"].split()) for it in items) / len(items) <= 95


def test_bad_settings_raise():
    for kwargs in ({"n_items": -1}, {"hard_share": 1.5}, {"free_response_share": -0.1},
                   {"question": "prognosis"}, {"min_options": 5, "max_options": 4}):
        settings = {"n_items": 5, "seed": 0} | kwargs
        with pytest.raises(ValueError):
            generate_vignettes(**settings)


# --- the condition table -----------------------------------------------------------------------

def test_table_spans_the_specialties():
    assert len(CONDITIONS) >= 30
    assert len({c.system for c in CONDITIONS}) >= 9
    assert len({c.key for c in CONDITIONS}) == len({c.name for c in CONDITIONS}) == len(
        CONDITIONS)


def test_lookalikes_steps_and_hard_material_are_well_formed():
    for cond in CONDITIONS:
        assert cond.lookalikes and cond.key not in cond.lookalikes
        assert all(k in CONDITION_BY_KEY for k in cond.lookalikes), cond.key
        assert cond.step in STEPS, cond.step
        assert len(set(cond.step_distractors)) == len(cond.step_distractors) >= 4, cond.key
        assert cond.step not in cond.step_distractors
        assert all(d in STEPS for d in cond.step_distractors), cond.key
        assert cond.distractors or cond.mimics or cond.atypical, cond.key
        assert len(cond.presentations) >= 2, cond.key


def test_spellings_never_name_two_answers_of_one_item(items):
    for it in items:
        owner: dict[str, str] = {}
        for canonical, synonyms in it["answers"].items():
            for spelling in (canonical, *synonyms):
                assert owner.setdefault(normalise(spelling), canonical) == canonical, (
                    it["id"], spelling)


def test_the_answer_is_never_spelled_out_in_the_case(items):
    for it in items:
        text = f" {normalise(it['text'])} "
        for spelling in (it["label"], *it["answers"][it["label"]]):
            assert f" {normalise(spelling)} " not in text, (it["id"], spelling)


# --- options and answers -----------------------------------------------------------------------

def test_multiple_choice_options_hold_the_label_once(items):
    for it in mc(items) + mc(items, "next_step"):
        assert 4 <= len(it["options"]) <= 5
        assert len(set(it["options"])) == len(it["options"])
        assert it["options"].count(it["label"]) == 1
        assert list(it["answers"]) == it["options"]
    positions = Counter(it["options"].index(it["label"]) for it in mc(items))
    assert len(positions) >= 4  # the answer is not always in the same place


def test_diagnosis_options_are_lookalikes(items):
    names = {c.name: c for c in CONDITIONS}
    for it in mc(items):
        cond = CONDITION_BY_KEY[it["condition"]]
        assert it["label"] == cond.name
        assert all(option in DIAGNOSES for option in it["options"])
        wrong = [names[o].key for o in it["options"] if o != it["label"]]
        # at least one option is a listed look-alike of the condition (or lists it)
        assert any(k in cond.lookalikes or cond.key in names[o].lookalikes
                   for k, o in zip(wrong, [o for o in it["options"] if o != it["label"]],
                                   strict=True)), it["id"]
    male_only = [it for it in mc(items) if CONDITION_BY_KEY[it["condition"]].sex == "M"]
    for it in male_only:
        assert not {"Ectopic pregnancy", "Ovarian torsion"} & set(it["options"])


def test_next_step_options_are_the_conditions_wrong_steps(items):
    for it in mc(items, "next_step"):
        cond = CONDITION_BY_KEY[it["condition"]]
        assert it["label"] == cond.step
        assert set(it["options"]) - {cond.step} <= set(cond.step_distractors)


def test_free_response_items_list_answer_and_lookalikes(items):
    for it in free(items) + free(items, "next_step"):
        assert it["options"] == []
        assert it["label"] in it["answers"] and len(it["answers"]) >= 3
    for it in free(items):
        cond = CONDITION_BY_KEY[it["condition"]]
        assert it["answers"][it["label"]] == list(cond.synonyms)


def test_lookalikes_respect_sex_and_age():
    appendicitis = CONDITION_BY_KEY["appendicitis"]
    for_men = {c.key for c in lookalikes_for(appendicitis, 30, "M")}
    for_women = {c.key for c in lookalikes_for(appendicitis, 30, "F")}
    assert "ectopic" in for_women and "ectopic" not in for_men
    assert "testicular_torsion" in appendicitis.lookalikes
    assert "testicular_torsion" not in {c.key for c in lookalikes_for(appendicitis, 60, "M")}


# --- the task: prompt, completion, parse, score ------------------------------------------------

def test_prompt_letters_the_options(items):
    it = mc(items)[0]
    system, user = TASK.prompt_messages(it)
    assert system == {"role": "system", "content": TASK.instruction}
    assert user["role"] == "user" and user["content"].startswith(it["text"])
    for i, option in enumerate(it["options"]):
        assert f"\n{'ABCDE'[i]}. {option}\n" in user["content"]
    assert user["content"].endswith("Answer with the letter and the option.")
    free_user = TASK.prompt_messages(free(items)[0])[1]["content"]
    assert "\nA. " not in free_user and free_user.endswith("most likely diagnosis only.")
    step_user = TASK.prompt_messages(free(items, "next_step")[0])[1]["content"]
    assert step_user.endswith("best next step only.")


def test_task_kind_and_defaults():
    assert TASK.kind == "choice" and TASK.metrics == ("accuracy",)
    assert TASK.default_pair_strategy == "hardest_wrong_label"
    assert TASK.default_max_new_tokens == 16
    assert TASK.build_items is generate_vignettes


@pytest.fixture()
def four() -> dict:
    return {"id": "x", "text": "Case?", "label": "Pulmonary embolism", "form": "multiple_choice",
            "question": "diagnosis",
            "options": ["Acute pericarditis", "Pulmonary embolism", "Aortic dissection",
                        "Tension pneumothorax"],
            "answers": {"Acute pericarditis": ["pericarditis"],
                        "Pulmonary embolism": ["PE", "pulmonary embolus"],
                        "Aortic dissection": ["acute aortic dissection"],
                        "Tension pneumothorax": ["pneumothorax", "tension PTX"]}}


@pytest.mark.parametrize("reply, parsed", [
    ("B", "Pulmonary embolism"), ("B.", "Pulmonary embolism"), ("(B)", "Pulmonary embolism"),
    ("B) PE", "Pulmonary embolism"), ("b.", "Pulmonary embolism"),
    ("Answer: C", "Aortic dissection"), ("The answer is D.", "Tension pneumothorax"),
    ("option A", "Acute pericarditis"), ("**C. Aortic dissection**", "Aortic dissection"),
    ("C\nbecause of the tearing pain", "Aortic dissection"),
    ("Final answer: (A)", "Acute pericarditis"),
    ("Pulmonary embolism", "Pulmonary embolism"), ("aortic dissection.", "Aortic dissection"),
    ("Likely a PE given the tachycardia", "Pulmonary embolism"),
    ("a tension PTX", "Tension pneumothorax"),
    ("D. Tension pneumothorax", "Tension pneumothorax"),
    ("E. Myocarditis", None),  # past the last option
    ("A 60-year-old with chest pain", None),  # an article, not a letter
    ("Myocarditis", None), ("", None), ("   \n", None),
])
def test_parse_multiple_choice(four, reply, parsed):
    assert TASK.parse(reply, four) == parsed


def test_parse_free_response():
    item = {"id": "y", "text": "Case?", "label": "Pulmonary embolism", "options": [],
            "question": "diagnosis",
            "answers": {"Pulmonary embolism": ["PE", "pulmonary embolus"],
                        "ST-elevation myocardial infarction": ["STEMI", "MI", "heart attack"],
                        "Tension pneumothorax": ["pneumothorax"]}}
    assert TASK.parse("PE", item) == "Pulmonary embolism"
    assert TASK.parse("Diagnosis: pulmonary EMBOLUS.", item) == "Pulmonary embolism"
    assert TASK.parse("Inferior STEMI", item) == "ST-elevation myocardial infarction"
    assert TASK.parse("heart attack, or maybe PE", item) == "ST-elevation myocardial infarction"
    assert TASK.parse("Tension pneumothorax", item) == "Tension pneumothorax"
    assert TASK.parse("PEA arrest", item) == "PEA arrest"  # whole words only
    # A wrong free answer is an answer, not a parse failure.
    assert TASK.parse("Answer: Kawasaki disease.\nExplanation ...", item) == "Kawasaki disease"
    assert TASK.parse("- **Myocarditis**", item) == "Myocarditis"
    assert TASK.parse("", item) is None and TASK.parse(" \n\t", item) is None
    accents = dict(item, label="Guillain-Barré syndrome",
                   answers={"Guillain-Barré syndrome": ["GBS"]})
    assert TASK.parse("guillain barre syndrome", accents) == "Guillain-Barré syndrome"


def test_parse_free_response_without_answers():
    item = {"id": "z", "text": "Case?", "label": "Lumbar puncture"}
    assert TASK.parse("Lumbar puncture.", item) == "Lumbar puncture"
    assert TASK.parse("CT head", item) == "CT head"
    assert TASK.candidates(item) is None
    assert TASK.completion(item) == "Lumbar puncture"
    assert TASK.stratum(item) == "free_response"
    assert TASK.stratum(dict(item, category="neurology")) == "free_response|neurology"


def test_score(four):
    assert TASK.score(four, "Pulmonary embolism") == {"score": 1}
    assert TASK.score(four, "pulmonary embolism.") == {"score": 1}
    assert TASK.score(four, "Aortic dissection") == {"score": 0}
    assert TASK.score(four, None) == {"score": 0}


def test_completion_and_candidates(four, items):
    assert TASK.gold(four) == "Pulmonary embolism"
    assert TASK.completion(four) == "B. Pulmonary embolism"
    assert TASK.candidates(four) == four["options"]
    assert TASK.answer_text(four, "Aortic dissection") == "C. Aortic dissection"
    with pytest.raises(ValueError):
        TASK.answer_text(four, "Myocarditis")
    it = free(items)[0]
    assert TASK.completion(it) == it["label"]
    assert TASK.candidates(it) == list(it["answers"])


def test_every_candidate_round_trips_through_parse_and_score(items):
    for it in random.Random(0).sample(items, 200):
        candidates = TASK.candidates(it)
        assert candidates and TASK.gold(it) in candidates
        for answer in candidates:
            parsed = TASK.parse(TASK.answer_text(it, answer), it)
            assert parsed == answer, (it["id"], answer, parsed)
            assert TASK.score(it, parsed)["score"] == int(answer == it["label"])
        assert TASK.parse(TASK.completion(it), it) == it["label"]
        # every accepted synonym of the answer parses to it as well
        for synonym in it["answers"][it["label"]]:
            assert TASK.parse(synonym, it) == it["label"], (it["id"], synonym)


def test_strata_keep_form_and_question(items):
    strata = Counter(TASK.stratum(it) for it in items)
    assert set(strata) == {f"{f}|{q}" for f in ("multiple_choice", "free_response")
                           for q in ("diagnosis", "next_step")}
    assert min(strata.values()) >= 100


def test_a_user_task_needs_no_builder():
    task = ChoiceTask(name="my_mcq", family="clinical_reasoning", description="d",
                      instruction="Answer.")
    item = {"id": "1", "text": "Q?", "label": "Yes", "options": ["No", "Yes"]}
    assert task.build_items is None
    assert task.parse("B", item) == "Yes" and task.parse("no", item) == "No"
    assert task.stratum(item) == "multiple_choice"


def test_no_finding_is_reported_twice(items):
    for it in generate_vignettes(600, seed=4, hard_share=1.0) + items:
        text = it["text"]
        for pattern in (r"Lipase \d", r"WBC [\d,]+/mm3", r"High-sensitivity troponin",
                        r"Chest X-ray:", r"ABG", r"ECG:"):
            assert len(re.findall(pattern, text)) <= 1, (pattern, text)
        assert not ("no leg edema" in text and "ankle edema" in text), text
