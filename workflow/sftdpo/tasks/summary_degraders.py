"""Rejected summaries for preference pairs: the reference with key facts dropped
(:func:`drop_key_facts`) or with one key fact contradicted (:func:`contradict_fact`), each
checked with the rubric (:mod:`sftdpo.tasks.rubric`) to grade below the reference."""

from __future__ import annotations

import random
import re

from sftdpo.tasks.rubric import (
    _SIDE_OF,
    OPPOSITE_WORDS,
    _fact,
    _normalise,
    _number,
    fact_status,
    rubric_grade,
)
from sftdpo.tasks.summary import _split_sentences, key_facts_of


def _units(reference: str) -> tuple[list[str], str]:
    """The reference's sentences, or its clauses when it is one sentence, and their joiner."""
    sentences = _split_sentences(reference)
    if len(sentences) > 1:
        return sentences, " "
    clauses = [c.strip() for c in re.split(r";\s+|,\s+(?:and\s+)?", reference.strip()) if c.strip()]
    return clauses, "; "


def _finish(units: list[str], joiner: str) -> str:
    text = joiner.join(units).strip()
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", "!", "?")) else text.rstrip(";,") + "."


def _reference_grade(item: dict) -> tuple[str, list[str], int]:
    reference, facts = item["reference"], key_facts_of(item)
    return reference, facts, rubric_grade(reference, facts)["grade"]


def drop_key_facts(item: dict, rng: random.Random, n: int = 1) -> str:
    """The reference without the sentences that carry ``n`` randomly chosen key facts (clauses
    when the reference is a single sentence). The result grades lower than the reference;
    ValueError when no choice does (e.g. no key fact is found in the reference)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    reference, facts, base = _reference_grade(item)
    units, joiner = _units(reference)
    carriers = {k: {i for i, u in enumerate(units) if fact_status(u, f) == "covered"}
                for k, f in enumerate(facts)}
    found = [k for k, units_of in carriers.items() if units_of]
    if not found:
        raise ValueError(f"item {item.get('id')!r}: no key fact is found in any single "
                         "sentence of the reference; cannot drop one")
    rng.shuffle(found)
    tries = [found[i:] + found[:i] for i in range(len(found))]
    for order in tries:
        for size in range(min(n, len(order)), 0, -1):
            drop = set().union(*(carriers[k] for k in order[:size]))
            kept = [u for i, u in enumerate(units) if i not in drop]
            if not kept:
                continue
            text = _finish(kept, joiner)
            if rubric_grade(text, facts)["grade"] < base:
                return text
    raise ValueError(f"item {item.get('id')!r}: dropping key-fact sentences never lowers the "
                     "grade (one sentence carries every fact?)")


_NEGATION_EDITS = ((r"\bnegative for\b", "positive for"), (r"\bno evidence of\b", "evidence of"),
                   (r"\bwithout\b", "with"), (r"\bdenies\b", "reports"),
                   (r"\bdenied\b", "reported"), (r"\bruled out\b", "confirmed"),
                   (r"\bnot\s+", ""), (r"\bno\s+", ""), (r"\bnegative\b", "positive"),
                   (r"\bnormal\b", "abnormal"), (r"\bresolved\b", "persisted"))
_NEGATION_ADDS = ((r"\b(was|were|is|are|has been|have been)\s+(?!not\b)", r"\1 not "),)
DRUG_SWAPS = {
    "apixaban": "rivaroxaban", "rivaroxaban": "apixaban", "warfarin": "apixaban",
    "enoxaparin": "heparin", "heparin": "enoxaparin", "furosemide": "torsemide",
    "torsemide": "furosemide", "spironolactone": "eplerenone", "empagliflozin": "dapagliflozin",
    "dapagliflozin": "empagliflozin", "metoprolol": "carvedilol", "carvedilol": "metoprolol",
    "diltiazem": "verapamil", "lisinopril": "losartan", "losartan": "lisinopril",
    "amlodipine": "lisinopril", "aspirin": "clopidogrel", "clopidogrel": "ticagrelor",
    "atorvastatin": "rosuvastatin", "ceftriaxone": "cefazolin", "cefazolin": "ceftriaxone",
    "azithromycin": "doxycycline", "doxycycline": "azithromycin", "cephalexin": "cefpodoxime",
    "cefpodoxime": "cephalexin", "ciprofloxacin": "levofloxacin",
    "levofloxacin": "ciprofloxacin", "prednisone": "methylprednisolone",
    "tiotropium": "albuterol", "glargine": "lispro", "lispro": "glargine",
    "metformin": "glipizide", "semaglutide": "metformin", "pantoprazole": "omeprazole",
    "ibuprofen": "naproxen", "naproxen": "ibuprofen", "acetaminophen": "ibuprofen",
    "oxycodone": "tramadol", "hydrochlorothiazide": "chlorthalidone", "amoxicillin": "cephalexin",
}


def _same_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if like[:1].isupper() else word


def _other_number(value: str, rng: random.Random, avoid: set[str]) -> str:
    """A plausible wrong value: a dose doubled or halved, a count off by one or two, a
    measurement off by 10-30% (pH by 0.1-0.2)."""
    number = float(value)
    decimals = len(value.split(".")[1]) if "." in value else 0
    if decimals and 6.5 < number < 8 and decimals == 2:  # a pH
        options = [number - 0.1, number - 0.15, number + 0.1, number - 0.2]
    elif decimals and number > 50:  # a temperature, a weight
        options = [number + d for d in (-2.5, -1.5, 1.2, 2.1)]
    elif decimals:
        options = [number * f for f in (0.7, 0.8, 1.25, 1.4)]
    elif number <= 12:
        options = [number + 1, number + 2, number * 2, number - 1]
    elif number % 5 == 0:
        options = [number * 2, number / 2, number * 1.5]
    else:
        options = [round(number * f) for f in (0.75, 0.85, 1.15, 1.3)]
    texts = []
    for option in options:
        text = f"{option:.{decimals}f}" if decimals else str(int(option))
        if (option > 0 and (decimals or option == int(option)) and text != value
                and _number(text) not in avoid and text not in texts):
            texts.append(text)
    rng.shuffle(texts)
    return texts[0] if texts else f"{number + 1:.{decimals}f}"


_COUNTED = r"(unit|day|week|month|hour|minute|year|tab|puff|drink)"


def _agree(rest: str, number: str) -> str:
    """``rest`` (the text after a changed number) with its counted noun in agreement."""
    if number == "1":
        return re.sub(rf"^(\s*-?){_COUNTED}s\b", r"\1\2", rest)
    return re.sub(rf"^(\s+){_COUNTED}\b(?!s)", r"\1\2s", rest)


def _edits(sentence: str, fact: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, edited sentence) candidates that contradict ``fact`` within ``sentence``."""
    out: list[tuple[str, str]] = []
    parsed = _fact(fact)
    values = {v for v, _, _ in parsed.numbers}
    for m in re.finditer(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]\d)", sentence):
        if _number(m.group(0)) in values:
            new = _other_number(m.group(0), rng, values)
            rest = _agree(sentence[m.end():], new)
            out.append(("number", sentence[: m.start()] + new + rest))
    fact_words = {w.lower() for w in re.findall(r"[A-Za-z]+", _normalise(fact))}
    for m in re.finditer(r"[A-Za-z]+", sentence):
        word = m.group(0)
        low = word.lower()
        if low in OPPOSITE_WORDS and (low in fact_words or _SIDE_OF.get(low) in parsed.sides):
            new = _same_case(OPPOSITE_WORDS[low], word)
            out.append(("side", sentence[: m.start()] + new + sentence[m.end():]))
        elif low in DRUG_SWAPS and low in fact_words:
            new = _same_case(DRUG_SWAPS[low], word)
            out.append(("drug", sentence[: m.start()] + new + sentence[m.end():]))
    edits = _NEGATION_EDITS if parsed.negated else _NEGATION_ADDS
    for pattern, repl in edits:
        for m in re.finditer(pattern, sentence, flags=re.I):
            new = re.sub(pattern, repl, m.group(0), flags=re.I)
            if m.group(0)[:1].isupper():
                new = new[:1].upper() + new[1:]
            edited = sentence[: m.start()] + new + sentence[m.end():]
            edited = edited[:1].upper() + edited[1:]
            out.append(("negation", edited))
    return out


def contradict_fact(item: dict, rng: random.Random) -> str:
    """The reference with one key fact contradicted in its sentence: a number changed, a side
    flipped (left/right, increased/decreased, started/stopped), a negation dropped (or added to
    a fact without one), or a drug swapped. The result grades lower than the reference and
    the edited fact reads as contradicted (or, for a swapped drug, missing); ValueError when
    no edit does."""
    reference, facts, base = _reference_grade(item)
    sentences = _split_sentences(reference)
    order = list(range(len(facts)))
    rng.shuffle(order)
    candidates: list[tuple[int, int, str, str]] = []
    for k in order:
        for i, sentence in enumerate(sentences):
            if fact_status(sentence, facts[k]) != "covered":
                continue
            for kind, edited in _edits(sentence, facts[k], rng):
                candidates.append((k, i, kind, edited))
    rng.shuffle(candidates)
    # An edit counts when the grade drops and the fact is no longer covered; among those,
    # one that reads as a contradiction beats one that only loses the fact (a swapped drug),
    # and the kind of edit (number, side, negation, drug) is drawn uniformly.
    found: dict[str, list[tuple[bool, str]]] = {}
    for k, i, kind, edited in candidates:
        text = " ".join(sentences[:i] + [edited] + sentences[i + 1:])
        result = rubric_grade(text, facts)
        if result["grade"] < base and result["status"][k] != "covered":
            found.setdefault(kind, []).append((result["status"][k] != "contradicted", text))
    if not found:
        raise ValueError(f"item {item.get('id')!r}: no key fact of the reference can be "
                         "contradicted (no number, side, negation or known drug to change)")
    best = min(flag for options in found.values() for flag, _ in options)
    kinds = sorted(kind for kind, options in found.items() if any(f == best for f, _ in options))
    kind = rng.choice(kinds)
    return next(text for flag, text in found[kind] if flag == best)
