"""Synthetic clinical case vignettes with one best answer: the diagnosis or the next step.

Every vignette is written from one condition of ``CONDITIONS`` (the table in
``data/reasoning.yaml``, with the next steps ``STEPS``; :mod:`sftdpo.tasks.reasoning_conditions`
reads it: 55 acute presentations across
cardiology, pulmonology, GI, neurology, infectious disease, vascular, musculoskeletal,
endocrinology, renal/urology, obstetrics and gynaecology, paediatrics and toxicology). The
condition alone fixes the answer; the wording, the patient and the values vary.

Labelling rule. A ``diagnosis`` item's answer is the condition's name. A ``next_step`` item's
answer is the condition's ``step``: the single best next step for the case as written, which
adds the facts that make that step the right one (``step_context``: e.g. the patient is stable,
contrast is safe, the confirmatory test is already back), and never shows the result of the
step itself. Every vignette shows at least one finding of each of the condition's
``key_signs`` and ``key_tests`` groups: the findings that tell it apart from its look-alikes.

Look-alikes are other conditions of the table a clinician may confuse with it (a condition's
``lookalikes``; only those credible for the patient's age, sex and pregnancy are used).
Multiple-choice items offer 4 or 5 options: the answer and look-alikes (diagnosis) or wrong
next steps written for that condition (``step_distractors``: a step that is harmful, too late,
too early or for a look-alike), in seeded order. Free-response items have no options; their
``answers`` maps the answer and its look-alikes (or wrong steps) to accepted synonyms, which is
what the task's parser matches.

Hard items (share ``hard_share``, exact up to rounding) carry one of: ``atypical`` (an atypical
presentation replaces the typical one), ``distractor`` (a misleading detail that points to a
look-alike: a relative's illness, an unrelated risk factor) or ``lookalike`` (a finding typical
of a look-alike that the condition also produces). The key findings stay, so the answer does
not change.
"""

from __future__ import annotations

import random
import re
from operator import itemgetter

from sftdpo.tasks.choice import FREE_RESPONSE, MULTIPLE_CHOICE, ChoiceTask
from sftdpo.tasks.reasoning_conditions import CONDITION_BY_KEY, CONDITIONS, SIDES, STEPS, Condition
from sftdpo.tasks.toolkit import (
    DistinctTexts,
    cap,
    check_choice,
    check_settings,
    cycled,
    exact_share,
    fill,
)

QUESTIONS = ("diagnosis", "next_step")
HARD_KINDS = ("atypical", "distractor", "lookalike")
MIN_WORDS, MAX_WORDS = 60, 110

# --- rendering -----------------------------------------------------------------------------

_SINGULAR = re.compile(r"\b1 (minute|hour|day|week|month|year|episode|time)s\b")
PRONOUNS = {"M": {"he": "he", "He": "He", "his": "his", "His": "His", "him": "him"},
            "F": {"he": "she", "He": "She", "his": "her", "His": "Her", "him": "her"}}


def _for_patient(entries, sex: str, age: float) -> list[str]:
    """Entries for this patient, their tag removed: ``F:``/``M:`` for one sex, ``W:`` for
    women aged 12 to 50, ``Y:`` for patients 25 or younger."""
    allowed = {"F:": sex == "F", "M:": sex == "M", "W:": sex == "F" and 12 <= age <= 50,
               "Y:": age <= 25}
    kept = []
    for entry in entries:
        if entry[:2] in allowed:
            if not allowed[entry[:2]]:
                continue
            entry = entry[2:]
        kept.append(entry)
    return kept


def _age_text(rng: random.Random, ages: tuple[float, float]) -> tuple[float, str]:
    lo, hi = ages
    if hi <= 0.25:
        weeks = rng.randint(round(lo * 52), round(hi * 52))
        return weeks / 52, f"{weeks}-week-old"
    if hi <= 2:
        months = rng.randint(max(1, round(lo * 12)), round(hi * 12))
        return months / 12, f"{months}-month-old"
    if lo < 2:
        months = rng.randint(round(lo * 12), round(hi * 12))
        if months < 24:
            return months / 12, f"{months}-month-old"
        return months // 12, f"{months // 12}-year-old"
    years = rng.randint(int(lo), int(hi))
    return years, f"{years}-year-old"


def _vital_ranges(age: float) -> dict[str, tuple[float, float]]:
    if age < 1:
        return {"t": (36.6, 37.3), "hr": (120, 150), "rr": (30, 40), "sbp": (80, 95),
                "dbp": (45, 60), "spo2": (97, 100)}
    if age < 6:
        return {"t": (36.6, 37.3), "hr": (96, 124), "rr": (22, 30), "sbp": (90, 105),
                "dbp": (50, 65), "spo2": (97, 100)}
    if age < 13:
        return {"t": (36.6, 37.2), "hr": (78, 104), "rr": (18, 24), "sbp": (96, 114),
                "dbp": (56, 72), "spo2": (97, 100)}
    return {"t": (36.6, 37.2), "hr": (68, 92), "rr": (14, 18), "sbp": (114, 136),
            "dbp": (68, 86), "spo2": (96, 99)}


def _vitals(rng: random.Random, cond: Condition, age: float) -> str:
    r = _vital_ranges(age) | cond.vitals
    t = rng.randint(round(r["t"][0] * 10), round(r["t"][1] * 10)) / 10
    hr, rr = rng.randint(*map(int, r["hr"])), rng.randint(*map(int, r["rr"]))
    sbp = rng.randint(*map(int, r["sbp"]))
    dbp_lo, dbp_hi = map(int, r["dbp"])
    dbp = rng.randint(min(dbp_lo, sbp - 20), min(dbp_hi, sbp - 20))  # pulse pressure >= 20
    spo2 = rng.randint(*map(int, r["spo2"]))
    temp = f"{t:.1f} °C" + (f" ({t * 9 / 5 + 32:.1f} °F)" if rng.random() < 0.25 else "")
    bp = age >= 3
    style = rng.randrange(3)
    if style == 0:
        parts = [f"T {temp}", f"HR {hr}/min"] + ([f"BP {sbp}/{dbp} mm Hg"] if bp else []) + [
            f"RR {rr}/min", f"SpO2 {spo2}% on room air"]
        return ", ".join(parts) + "."
    if style == 1:
        parts = [f"Temperature {temp}", f"pulse {hr}/min"] + (
            [f"blood pressure {sbp}/{dbp} mm Hg"] if bp else []) + [
            f"respirations {rr}/min", f"oxygen saturation {spo2}% on room air"]
        return ", ".join(parts) + "."
    parts = [f"{t:.1f} °C", f"HR {hr}"] + ([f"BP {sbp}/{dbp}"] if bp else []) + [
        f"RR {rr}", f"SpO2 {spo2}% RA"]
    return "Vitals: " + ", ".join(parts) + "."


TOPICS = (("lipase",), ("troponin",), ("wbc",), ("x-ray",), ("uric",), ("d-dimer",),
          ("abdomen", "abdominal", "quadrant"), ("edema", "swelling"), ("calf",),
          ("erythema", "redness"), ("crackles",), ("wheez",))


def _topics(finding: str) -> set[int]:
    low = finding.lower()
    return {i for i, words in enumerate(TOPICS) if any(w in low for w in words)}


def _test_kind(test: str) -> str:
    """What a result reports ("ECG", "Chest X-ray"), or the result itself."""
    head, colon, _ = test.partition(":")
    return head if colon and len(head) <= 40 else test


def _join(phrases: list[str]) -> str:
    """"a, b and c", or "a; b; c" when a phrase holds a comma or an "and" itself."""
    if len(phrases) <= 1:
        return "".join(phrases)
    if any("," in p or " and " in p for p in phrases):
        return "; ".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _opener(rng: random.Random, cond: Condition, age: float, age_text: str, sex: str,
            presentation: str, history: str | None, slots: dict) -> list[str]:
    """The opening sentence(s): who the patient is and why they came."""
    child = age < 13 and cond.mode == "auto"
    noun = ("boy" if sex == "M" else "girl") if age < 18 else ("man" if sex == "M" else "woman")
    article = "An" if age_text[0] == "8" or age_text.startswith(("11-", "18-")) else "A"
    who = f"{article} {age_text} {noun}"
    if cond.mode == "ob":
        assert history is not None
        return [f"{who}, {history}, presents to labor and delivery with {presentation}."]
    with_hx = f" with {history}" if history and ";" not in history and rng.random() < 0.5 \
        else ""
    if cond.mode == "found":
        first = rng.choice((
            f"{who}{with_hx} is brought to the emergency department by EMS after "
            f"{presentation}.",
            f"EMS brings {who[0].lower() + who[1:]}{with_hx} to the ED after {presentation}.",
        ))
    elif child:
        parent = rng.choice(("mother", "father", "parents"))
        first = rng.choice((
            f"{who}{with_hx} is brought to the emergency department by {slots['his']} "
            f"{parent} because of {presentation}.",
            f"{who}{with_hx} is brought to the ED with {presentation}.",
            f"{who}{with_hx} is brought to the pediatric emergency department because of "
            f"{presentation}.",
        ))
    else:
        first = rng.choice((
            f"{who}{with_hx} presents to the emergency department with {presentation}.",
            f"{who}{with_hx} comes to the ED because of {presentation}.",
            f"{who}{with_hx} is evaluated in the emergency department for {presentation}.",
            f"{age_text.capitalize()} {noun}{with_hx} presenting with {presentation}.",
        ))
    sentences = [first]
    if history and not with_hx:
        sentences.append(f"{cap(slots['he'])} has {history}.")
    return sentences


def _credible(cond: Condition, age: float, sex: str, pregnant: bool) -> bool:
    """Whether ``cond`` is a credible look-alike for this patient."""
    lo, hi = cond.plausible
    return (lo <= age <= hi and (cond.sex is None or cond.sex == sex)
            and (not cond.pregnant or pregnant))


def lookalikes_for(cond: Condition, age: float, sex: str) -> list[Condition]:
    """The condition's look-alikes credible for the patient, in table order."""
    return [CONDITION_BY_KEY[k] for k in cond.lookalikes
            if _credible(CONDITION_BY_KEY[k], age, sex, cond.pregnant)]


def _diagnosis_options(rng: random.Random, cond: Condition, age: float, sex: str,
                       n_options: int, min_options: int) -> list[Condition]:
    """Wrong diagnoses for the options: look-alikes first, then conditions that list this one
    as their look-alike, then look-alikes of look-alikes, then conditions of the same system,
    then any credible condition. Where fewer than ``n_options - 1`` look-alikes (either way)
    are credible for the patient, the item has fewer options, down to ``min_options``."""
    pool = lookalikes_for(cond, age, sex)
    reverse = [c for c in CONDITIONS if cond.key in c.lookalikes and c not in pool
               and _credible(c, age, sex, cond.pregnant)]
    n_options = max(min_options, min(n_options, 1 + len(pool) + len(reverse)))
    chosen = rng.sample(pool, min(len(pool), n_options - 1))
    near = {k for c in CONDITIONS if cond.key in c.lookalikes or c.key in cond.lookalikes
            for k in c.lookalikes}
    tiers = (lambda c: cond.key in c.lookalikes, lambda c: c.key in near,
             lambda c: c.system == cond.system, lambda c: True)
    for tier in tiers:
        extra = [c for c in CONDITIONS if c is not cond and c not in chosen and tier(c)
                 and _credible(c, age, sex, cond.pregnant)]
        rng.shuffle(extra)
        chosen += extra[: n_options - 1 - len(chosen)]
    return chosen


def _vignette(rng: random.Random, cond: Condition, question: str, hard_kind: str | None,
              form: str) -> tuple[str, float, str]:
    """The case text (vignette and question), the patient's age and sex."""
    sex = cond.sex or rng.choice("MF")
    age, age_text = _age_text(rng, cond.ages)
    slots = dict(PRONOUNS[sex])
    slots.update(rng.choice(SIDES))
    slots["partner"] = rng.choice(("wife", "partner") if sex == "M" else ("husband", "partner"))
    slots["sibling"] = rng.choice(("sister", "brother"))
    if cond.variants:
        slots.update(rng.choice(cond.variants))
    if cond.compute is not None:
        slots.update(cond.compute(rng))

    def fill_in(template: str) -> str:
        return fill(template, rng, slots)

    presentation = rng.choice(cond.presentations)
    if hard_kind == "atypical":
        presentation = rng.choice(cond.atypical)
    histories = _for_patient(cond.history, sex, age)
    history = fill_in(rng.choice(histories)) if histories and (
        cond.mode == "ob" or rng.random() < 0.8) else None
    contexts = _for_patient(cond.context, sex, age)
    context = [fill_in(rng.choice(contexts))] if contexts and (
        history is None or rng.random() < 0.5) else []
    extra_hx, extra_signs, extra_tests = [], [], []
    if hard_kind == "distractor":
        extra_hx.append(fill_in(rng.choice(cond.distractors)))
    elif hard_kind == "lookalike":
        mimic = rng.choice(cond.mimics)
        if mimic.startswith("exam:"):
            extra_signs.append(fill_in(mimic[5:]))
        elif mimic.startswith("test:"):
            extra_tests.append(fill_in(mimic[5:]))
        else:
            extra_hx.append(fill_in(mimic))

    key_signs = [fill_in(rng.choice(group)) for group in cond.key_signs]
    key_tests = [fill_in(rng.choice(group)) for group in cond.key_tests]
    signs = _for_patient(cond.signs, sex, age)
    optional_signs = [fill_in(s) for s in rng.sample(signs, len(signs))]
    tests = _for_patient(cond.tests, sex, age) + (
        list(cond.dx_tests) if question == "diagnosis" else [])
    optional_tests = []
    kinds = {_test_kind(t) for t in key_tests}  # one ECG, one chest X-ray ... per case
    for test in rng.sample(tests, len(tests)):
        if _test_kind(test) not in kinds:
            kinds.add(_test_kind(test))
            optional_tests.append(fill_in(test))
    # A look-alike finding replaces optional findings on the same topic (no "Lipase 51" next to
    # "Lipase 88", no "no leg edema" next to "mild ankle edema").
    for mimic in extra_signs + extra_tests:
        optional_signs = [f for f in optional_signs if not _topics(f) & _topics(mimic)]
        optional_tests = [f for f in optional_tests if not _topics(f) & _topics(mimic)]
    n_signs, n_tests = rng.randint(0, 2), rng.randint(0, 2)
    vitals = _vitals(rng, cond, age)
    opener = _opener(rng, cond, age, age_text, sex, fill_in(presentation), history, slots)
    if question == "diagnosis":
        ask = rng.choice(("Which of the following is the most likely diagnosis?",
                          "What is the most likely diagnosis?")
                         if form == MULTIPLE_CHOICE else
                         ("What is the most likely diagnosis?",
                          "Which diagnosis best explains these findings?",
                          "What is the most likely diagnosis?"))
        step_context = ""
    else:
        ask = fill_in(cond.step_question or rng.choice((
            "What is the most appropriate next step in management?",
            "What is the best next step?", "What is the most appropriate next step?")))
        if form == MULTIPLE_CHOICE:
            ask = re.sub(r"^What is", "Which of the following is", ask)
            ask = re.sub(r"^Which drug", "Which of the following drugs", ask)
        step_context = fill_in(cond.step_context)

    def text(n_signs: int, n_tests: int) -> str:
        signs = rng.sample(key_signs + extra_signs + optional_signs[:n_signs],
                           len(key_signs) + len(extra_signs) + min(n_signs, len(optional_signs)))
        # negatives last, so "jaundice and no ascites", never "no ascites and jaundice"
        signs.sort(key=lambda f: f.startswith(("no ", "is:no ")))
        looks = [s[3:] for s in signs if s.startswith("is:")]
        signs = [s for s in signs if not s.startswith("is:")]
        parts = opener + context + extra_hx + [vitals]
        if looks:
            parts.append(f"{slots['He']} is {_join(looks)}.")
        if signs:
            parts.append(rng.choice(("Exam: ", "On examination: ", "Exam shows "))
                         + _join(signs) + ".")
        parts += key_tests + optional_tests[:n_tests] + extra_tests
        if step_context:
            parts.append(step_context)
        parts.append(ask)
        return _SINGULAR.sub(r"1 \1", " ".join(cap(p) for p in parts))

    body = text(n_signs, n_tests)
    # Fit the length: drop optional findings while too long, add them while too short.
    while len(body.split()) > MAX_WORDS and (n_signs or n_tests):
        if n_tests >= n_signs and n_tests:
            n_tests -= 1
        else:
            n_signs -= 1
        body = text(n_signs, n_tests)
    while len(body.split()) < MIN_WORDS and (n_signs < len(optional_signs)
                                             or n_tests < len(optional_tests)):
        if n_signs < len(optional_signs):
            n_signs += 1
        if len(text(n_signs, n_tests).split()) < MIN_WORDS and n_tests < len(optional_tests):
            n_tests += 1
        body = text(n_signs, n_tests)
    return body, age, sex


def _answers(names: list[str], table: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {name: list(table.get(name, ())) for name in names}


DIAGNOSES: dict[str, tuple[str, ...]] = {c.name: c.synonyms for c in CONDITIONS}


def generate_vignettes(n_items: int, seed: int, hard_share: float = 0.3,
                       free_response_share: float = 0.5, question: str = "mixed",
                       min_options: int = 4, max_options: int = 5) -> list[dict]:
    """``n_items`` distinct case vignettes, each asking the diagnosis or the next step.

    Conditions are balanced (counts differ by at most one). A share ``free_response_share``
    of items is free response, the rest multiple choice with ``min_options`` to
    ``max_options`` options; a share ``hard_share`` is hard (see the module docstring); with
    ``question="mixed"`` half the items ask the diagnosis and half the next step (else all ask
    ``question``). All shares are exact up to rounding.
    """
    check_settings(n_items, hard_share=hard_share, free_response_share=free_response_share)
    check_choice("question", question, ("mixed", *QUESTIONS))
    if not 2 <= min_options <= max_options <= 5:
        raise ValueError(f"need 2 <= min_options <= max_options <= 5, got {min_options}, "
                         f"{max_options}")
    rng = random.Random(seed)
    conditions = cycled(CONDITIONS, n_items)
    rng.shuffle(conditions)
    free = exact_share(n_items, free_response_share, rng)
    hard = exact_share(n_items, hard_share, rng)
    if question == "mixed":
        questions = ["next_step" if f else "diagnosis"
                     for f in exact_share(n_items, 0.5, rng)]
    else:
        questions = [question] * n_items

    items, texts = [], DistinctTexts(seed, 0.0, "vignette")
    for i in range(n_items):
        cond, q = conditions[i], questions[i]
        form = FREE_RESPONSE if free[i] else MULTIPLE_CHOICE
        kinds = [k for k, material in zip(HARD_KINDS, (cond.atypical, cond.distractors,
                                                       cond.mimics), strict=True) if material]
        hard_kind = rng.choice(kinds) if hard[i] else None
        # regenerate on a repeated text or one out of length
        (text, age, sex), _ = texts.write(
            i, _vignette, rng, cond, q, hard_kind, form, text_of=itemgetter(0),
            fits=lambda text: MIN_WORDS <= len(text.split()) <= MAX_WORDS)
        n_options = rng.randint(min_options, max_options)
        if q == "diagnosis":
            label = cond.name
            wrong = [c.name for c in _diagnosis_options(rng, cond, age, sex, n_options,
                                                        min_options)]
            others = [c.name for c in lookalikes_for(cond, age, sex)]
            table = DIAGNOSES
        else:
            label = cond.step
            wrong = rng.sample(cond.step_distractors, min(n_options - 1,
                                                          len(cond.step_distractors)))
            others = list(cond.step_distractors)
            table = STEPS
        if form == MULTIPLE_CHOICE:
            options = [label, *wrong]
            rng.shuffle(options)
            answers = _answers(options, table)
        else:
            options = []
            answers = _answers(list(dict.fromkeys([label, *others, *wrong])), table)
        items.append({
            "id": f"reasoning-{i:05d}",
            "text": text,
            "label": label,
            "options": options,
            "answers": answers,
            "form": form,
            "question": q,
            "condition": cond.key,
            "system": cond.system,
            "hard": hard_kind is not None,
            "variant": hard_kind,
        })
    return items


CLINICAL_REASONING = ChoiceTask(
    name="clinical_reasoning",
    # Template family: split.by: group keeps each in one split (test = unseen families).
    group_field="condition",
    family="clinical_reasoning",
    description="Answer a clinical case vignette: the most likely diagnosis or the best next "
                "step, as multiple choice or free response.",
    # Short on purpose: the prompt is most of every training token.
    instruction="You are a physician answering a clinical case question. Give only the single "
                "best answer, with no explanation.",
    build_items=generate_vignettes,
)
