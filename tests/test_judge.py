import pytest

import sftdpo.judge as judge
from sftdpo.inference import TokenTally
from sftdpo.judge import (
    JUDGE_RUBRIC,
    judge_counts,
    judge_messages,
    judge_summaries,
    parse_grade,
)
from sftdpo.modeling import load_base_model, load_tokenizer
from sftdpo.tasks import BUILTIN_TASKS

SPEC = {"dtype": "float32", "quantization": "none"}


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        # label "grade"
        ("Grade: 4", 4),
        ("grade 4/5", 4),
        ("GRADE:5", 5),
        ("**Grade:** 2\nThe summary drops the dose.", 2),
        ("Grade: 4\nIt keeps all 5 key facts.", 4),
        ("I would give it a grade of 3.", 3),
        ("Final grade - four", 4),
        ("Grade (1-5): 4", 4),
        ("Completeness score: 5, correctness score: 2. Grade: 3", 3),
        # label "score" / "rating"
        ("Score: 5 out of 5", 5),
        ("Rating: 2", 2),
        # leading number
        ("**4**", 4),
        ("4 - good", 4),
        ("4", 4),
        ("(3) misses the follow-up", 3),
        ("Four", 4),
        ("4/5.", 4),
        # fraction, verb, lone number
        ("The summary earns 4/5 because it omits the INR.", 4),
        ("Overall, four out of five.", 4),
        ("I would give it a 3.", 3),
        ("I'd rate it four.", 4),
        ("Overall 2, the dose is wrong.", 2),
        # no grade
        ("", None),
        (None, None),
        ("Good summary.", None),
        ("This one is fine.", None),
        ("Grade: <1-5>", None),
        # out of range or not an integer grade
        ("Grade: 7", None),
        ("0", None),
        ("Grade: 0", None),
        ("Grade: 4.5", None),
        ("Score: 8/10", None),
        ("six", None),
        # ambiguous
        ("3 or 4", None),
        ("Grade: 3-4", None),
        ("Grade: 3\nGrade: 4", None),
        ("It's a 3, maybe a 4.", None),
        ("3 out of 5 key facts are kept.", None),
        ("5 key facts are kept, 1 is wrong.", None),
    ],
)
def test_parse_grade(text, grade):
    assert parse_grade(text) == grade


def test_an_invalid_labelled_grade_is_not_replaced_by_a_later_form():
    assert parse_grade("Grade: 9. I would give it a 4.") is None
    assert parse_grade("Grade: 9") is None and parse_grade("4") == 4


def test_judge_messages_put_the_rubric_in_system_and_the_case_in_user():
    note = "Admitted with CHF exacerbation, diuresed with IV furosemide."
    summary = "CHF exacerbation treated with IV diuresis."
    facts = ["CHF exacerbation", "IV furosemide"]
    messages = judge_messages(note, summary, facts)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == JUDGE_RUBRIC
    user = messages[1]["content"]
    assert note in user and summary in user
    assert all(f"- {fact}" in user for fact in facts)
    assert user.index(note) < user.index("IV furosemide\n") < user.index(summary)
    without = judge_messages(note, summary, None)[1]["content"]
    assert "Key facts" not in without and note in without and summary in without


def test_the_rubric_names_the_criteria_anchors_and_answer_format():
    text = JUDGE_RUBRIC.lower()
    for word in ("completeness", "correctness", "conciseness", "hallucination"):
        assert word in text
    for grade in "54321":
        assert f"\n{grade} = " in JUDGE_RUBRIC
    assert '"Grade: <1-5>" on the first line' in JUDGE_RUBRIC


def _items(n):
    return BUILTIN_TASKS["hospital_course_summary"].build_items(n, 0)


def test_empty_summaries_are_grade_1_without_asking_the_model(monkeypatch):
    items = _items(4)
    calls = []
    asked = TokenTally(prompt=120, generated=5)

    def fake_generate(model, tokenizer, prompts, max_new_tokens, batch_size):
        calls.append((prompts, max_new_tokens, batch_size))
        return ["Grade: 4", "I would give it a 2."][: len(prompts)], asked

    monkeypatch.setattr(judge, "generate_answers", fake_generate)
    summaries = [None, "Heart failure, diuresed.", "  ", "Pneumonia on ceftriaxone."]
    results, tally = judge_summaries("model", "tokenizer", items, summaries, batch_size=3)
    assert len(calls) == 1 and tally == asked  # what the model ran, for the compute record
    prompts, max_new_tokens, batch_size = calls[0]
    assert (max_new_tokens, batch_size) == (16, 3)
    assert [p[1]["content"].split("Summary:\n")[1] for p in prompts] == [summaries[1],
                                                                         summaries[3]]
    assert items[1]["text"].strip() in prompts[0][1]["content"]
    assert items[1]["key_facts"][0] in prompts[0][1]["content"]
    assert results == [{"judge_grade": 1, "judge_output": ""},
                       {"judge_grade": 4, "judge_output": "Grade: 4"},
                       {"judge_grade": 1, "judge_output": ""},
                       {"judge_grade": 2, "judge_output": "I would give it a 2."}]

    calls.clear()
    assert judge_summaries("model", "tokenizer", items[:2], [None, ""], 2) == (
        [{"judge_grade": 1, "judge_output": ""}] * 2, TokenTally())
    assert calls == []
    with pytest.raises(ValueError):
        judge_summaries("model", "tokenizer", items, summaries[:2], 2)


def test_judge_summaries_on_a_tiny_model(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC, "cpu")
    items = _items(3)
    summaries = [items[0]["reference"], "", items[2]["reference"][:40]]
    results, tally = judge_summaries(model, tokenizer, items, summaries, batch_size=2,
                                     max_new_tokens=4)
    assert len(results) == 3
    assert tally.prompt > 0 and 0 < tally.generated <= 2 * 4 and tally.scored == 0
    # A second judge job in the same process counts its own tokens only.
    assert judge_summaries(model, tokenizer, items, summaries, batch_size=2,
                           max_new_tokens=4) == (results, tally)
    assert results[1] == {"judge_grade": 1, "judge_output": ""}
    for result in results:
        assert set(result) == {"judge_grade", "judge_output"}
        assert isinstance(result["judge_output"], str)
        assert result["judge_grade"] is None or result["judge_grade"] in range(1, 6)
    for result in (results[0], results[2]):  # the model's answers, parsed as they read
        assert result["judge_grade"] == parse_grade(result["judge_output"])
    assert judge_counts(results)["judged"] == 3


def test_judge_counts():
    results = [{"judge_grade": 4, "judge_output": "Grade: 4"},
               {"judge_grade": None, "judge_output": "hmm"},
               {"judge_grade": 1, "judge_output": ""},
               {"judge_grade": None, "judge_output": "Grade: 7"}]
    assert judge_counts(results) == {"judged": 4, "unparseable": 2}
    assert judge_counts([]) == {"judged": 0, "unparseable": 0}
