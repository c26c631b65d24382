"""An optional LLM judge for summaries: a model grades each summary 1-5 by a written rubric.

The deterministic key-fact rubric (:func:`sftdpo.tasks.rubric.rubric_grade`) stays the default
grader; the judge is a second opinion. The judge model sees :data:`JUDGE_RUBRIC` as its system
prompt and the note, the key facts (when the item has them) and the summary as the user turn
(:func:`judge_messages`), and answers greedily (:func:`sftdpo.inference.generate_answers`).
No summary (None, empty, or no letter in it, as for the rubric grader) is grade 1 without
asking the model. :func:`parse_grade` reads the grade from the judge's answer.

What :func:`parse_grade` accepts, exactly
------------------------------------------
The answer is lower-cased and markdown marks (``* _ ` #``) are dropped. A *number* is an
integer ("4"), a decimal ("4.5") or a number word ("zero" .. "ten"), standing alone (not part of
a longer word or number). A number is a valid grade when it is an integer from 1 to 5, is not
followed by a range ("3-4", "3 to 4", "3 or 4") and, when followed by "/M" or "out of M", has
M = 5 ("4/5", "four out of five"; "8/10" is not a grade).

The forms below are tried in order; the first form found in the answer decides, and the answer
has no grade (None) when that form gives two different values or an invalid grade. An invalid
grade is never replaced by a later form: "Grade: 7", "Grade: 4.5", "Grade: 3-4" and "0" are None.

1. A ``grade`` label and the number after it: "Grade: 4", "grade 4/5", "Final grade - 4",
   "grade of 3", "Grade is a 2", "Grade (1-5): 4".
2. A ``score`` or ``rating`` label and the number after it: "Score: 5 out of 5", "Rating: 2".
3. A leading number: the answer starts with a number (after spaces, quotes or brackets) that
   ends its line or is followed by punctuation: "4", "**4**", "4 - good", "4/5.", "Four".
   "5 key facts are kept" does not count (a word follows the number).
4. A fraction anywhere: "N/5" or "N out of 5" (digits or words), unless a counted noun follows
   ("3 out of 5 key facts" is a count, not a grade).
5. A verb of grading and the number after it: "I would give it a 3.", "I'd rate it four",
   "it deserves a 2", "assign 4".
6. A lone number: the answer holds exactly one distinct number (digits only; denominators and
   decimals count): "Overall 3." gives 3; "It's a 3, maybe a 4" and "3 of 5 facts" give None.

Anything else is None: no number ("Good summary."), a number word elsewhere than in the forms
above ("this one is fine" is not grade 1), or an empty answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sftdpo.inference import TokenTally, generate_answers
from sftdpo.tasks.summary import key_facts_of

JUDGE_RUBRIC = """\
You grade a summary of a clinical note from 1 to 5 on four criteria:
- Completeness: the key facts of the note are kept.
- Correctness: nothing contradicts the note.
- Conciseness: short, no repetition or irrelevant detail.
- No hallucination: nothing is added that is not in the note.
5 = every key fact kept; nothing wrong or added; concise.
4 = one key fact missing or a little wordy; nothing wrong or added.
3 = about half the key facts kept, or one fact contradicted or added.
2 = most key facts missing, or several facts contradicted or added.
1 = no usable summary: almost nothing kept, mostly wrong or invented.
Answer "Grade: <1-5>" on the first line, then one short sentence why."""

NUMBER_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_NUM = r"(?<![\w.])(\d+(?:\.\d+)?|" + "|".join(NUMBER_WORDS) + r")(?![\w]|\.\d)"
# After a number: a denominator ("/5", "out of five") or a range ("-4", "to 4", "or 4").
_DENOMINATOR = re.compile(r"[ \t]*(?:/|out of)[ \t]*" + _NUM)
_RANGE = re.compile(r"[ \t]*(?:-|–|to\b|or\b)[ \t]*" + _NUM)
_GRADE_LABEL = re.compile(
    r"\bgrade\b[ \t]*(?:\([^)\n]*\))?[ \t]*(?:[:=\-–][ \t\n]*)?"
    r"(?:(?:is|of|would be|will be)[ \t]+)?(?:(?:a|an)[ \t]+)?" + _NUM)
_SCORE_LABEL = re.compile(
    r"\b(?:score|rating)\b[ \t]*(?:\([^)\n]*\))?[ \t]*(?:[:=\-–][ \t\n]*)?"
    r"(?:(?:is|of|would be|will be)[ \t]+)?(?:(?:a|an)[ \t]+)?" + _NUM)
_LEADING = re.compile(r"\A[\s\"'(\[{<]*" + _NUM + r"(?=[ \t]*(?:$|\n|[^\w\s]))")
_FRACTION = re.compile(
    _NUM + r"[ \t]*(?:/|out of)[ \t]*(?:5|five)\b(?![ \t]+(?:key[ \t]+)?"
    r"(?:facts?|items?|points?|criteria|criterion|sentences?|details?|elements?)\b)")
_VERB = re.compile(
    r"\b(?:give|gives|giving|gave|rate|rates|rated|assign|assigns|assigned|award|awards|"
    r"deserves?|earns?)\b(?:[ \t]+(?:it|this|this summary|the summary))?"
    r"(?:[ \t]+(?:a|an))?[ \t]+" + _NUM)
_ANY_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w]|\.\d)")
_MARKDOWN = re.compile(r"[*_`#]")


def _value(token: str) -> int | None:
    """A number token as an integer grade 1-5, else None (decimal, out of range)."""
    if token in NUMBER_WORDS:
        value = NUMBER_WORDS[token]
    elif token.isdigit():
        value = int(token)
    else:
        return None
    return value if 1 <= value <= 5 else None


def _mention(text: str, match: re.Match) -> int | None:
    """The grade a number match gives: None when invalid, ranged or out of another scale."""
    rest = text[match.end(1):]
    if _RANGE.match(rest):
        return None
    denominator = _DENOMINATOR.match(rest)
    if denominator and denominator.group(1) not in ("5", "five"):
        return None
    return _value(match.group(1))


def _decide(values: list[int | None]) -> int | None:
    """One grade from a form's mentions: None when any is invalid or two differ."""
    if any(v is None for v in values) or len(set(values)) != 1:
        return None
    return values[0]


def parse_grade(text: str | None) -> int | None:
    """The grade 1-5 in a judge's answer, or None (see the module docstring for the forms)."""
    if not text:
        return None
    text = _MARKDOWN.sub("", text).lower().strip()
    for form in (_GRADE_LABEL, _SCORE_LABEL, _LEADING, _FRACTION, _VERB):
        matches = list(form.finditer(text))
        if matches:
            return _decide([_mention(text, m) for m in matches])
    numbers = _ANY_NUMBER.findall(text)
    if len(set(numbers)) == 1:
        return _value(numbers[0])
    return None


def judge_messages(note: str, summary: str, key_facts: Sequence[str] | None) -> list[dict]:
    """The judge's chat prompt: the rubric as system prompt; note, key facts, summary as user."""
    parts = [f"Note:\n{note.strip()}"]
    if key_facts:
        parts.append("Key facts:\n" + "\n".join(f"- {fact.strip()}" for fact in key_facts))
    parts.append(f"Summary:\n{summary.strip()}")
    return [
        {"role": "system", "content": JUDGE_RUBRIC},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def has_summary(summary: str | None) -> bool:
    """Whether there is a summary to judge: some text with a letter (the rubric grader's rule)."""
    return summary is not None and re.search(r"[A-Za-z]", summary) is not None


def _key_facts(item: dict) -> list[str] | None:
    """The key facts the item's data gives (:func:`key_facts_of`), or None when it gives none:
    the judge then grades from the note alone (the rubric's facts from the reference's
    clauses are not shown to it)."""
    if item.get("key_facts") is None:
        return None
    try:
        return key_facts_of(item)
    except ValueError:
        return None


def judge_summaries(model, tokenizer, items: list[dict], summaries: list[str | None],
                    batch_size: int, max_new_tokens: int = 16
                    ) -> tuple[list[dict], TokenTally]:
    """Grade each item's summary with the judge model: one ``{"judge_grade": int | None,
    "judge_output": str}`` per item, in order. No summary is grade 1 with output "" and the
    model is not asked; an answer without a readable grade is ``judge_grade`` None. Also the
    tokens the judge model ran (none where it was not asked), for the job's compute record."""
    if len(items) != len(summaries):
        raise ValueError(f"{len(items)} items but {len(summaries)} summaries")
    results = [{"judge_grade": 1, "judge_output": ""} for _ in items]
    asked = [i for i, summary in enumerate(summaries) if has_summary(summary)]
    tally = TokenTally()
    if asked:
        prompts = [judge_messages(items[i]["text"], summaries[i], _key_facts(items[i]))
                   for i in asked]
        outputs, tally = generate_answers(model, tokenizer, prompts, max_new_tokens, batch_size)
        for i, output in zip(asked, outputs, strict=True):
            results[i] = {"judge_grade": parse_grade(output), "judge_output": output}
    return results, tally


def judge_counts(results: Sequence[dict]) -> dict:
    """``judged``: results (items) in all; ``unparseable``: those without a grade."""
    return {"judged": len(results),
            "unparseable": sum(r["judge_grade"] is None for r in results)}
