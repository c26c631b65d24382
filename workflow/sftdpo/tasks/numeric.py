"""Classification from numbers: breast-mass cytology (real data) and qSOFA from vitals (synthetic).

``breast_cancer``. The Wisconsin Diagnostic Breast Cancer data that ships with scikit-learn
(``sklearn.datasets.load_breast_cancer``, 569 fine-needle aspirates of breast masses, 212
malignant and 357 benign; no network needed). Each item is one row: the digitised cell-nucleus
measurements written out as text, values exactly as in the data, labelled with the row's
diagnosis (``malignant`` or ``benign``; scikit-learn's target 0 is malignant). ``features``
picks the columns: ``mean`` (the 10 per-aspirate means; short prompts) or ``all`` (each of the
10 measurements as mean, standard error and worst value: 30 numbers). Ids are ``bc-<row>``, the
row's index in the data, so every item is traceable.

``sepsis_qsofa``. Synthetic ED / ward notes: a one-line context, vital signs, mental status and
sometimes labs, e.g. "78F from SNF, cough x2d. T 38.6 HR 118 BP 92/54 RR 24 SpO2 94% RA.
Neuro: GCS 14, confused per RN." The label follows the quick SOFA score (Sepsis-3: Singer et
al., JAMA 2016), one point each for

* respiratory rate >= 22/min,
* systolic blood pressure <= 100 mmHg,
* altered mentation: GCS < 15. Notes state it as a GCS or in words; "confused", "disoriented",
  "oriented x2", "lethargic" and the like mean GCS < 15, "A&Ox3", "alert and oriented" GCS 15.

``positive`` when the score is >= 2, else ``negative``. Nothing else counts: temperature, heart
rate, SpO2, MAP, lactate and WBC are distractors. Hard items (share ``hard_share``):
``threshold`` (a criterion exactly at its cut-off, RR 22, SBP 100, GCS 14, and the others just
off it, RR 21, SBP 101, GCS 15), ``sirs_mimic`` (negative, but febrile, tachycardic, with a
high lactate or WBC) and ``bland`` (positive with otherwise unremarkable values).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from operator import itemgetter

from sftdpo.tasks.base import LabelTask
from sftdpo.tasks.tables import Table
from sftdpo.tasks.toolkit import (
    DistinctTexts,
    balanced_hard_plan,
    cap,
    check_choice,
    check_settings,
)

# --- breast cancer -----------------------------------------------------------------------------

BC_LABELS = ("malignant", "benign")  # scikit-learn's target 0 and 1
MEASUREMENTS = ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
                "concavity", "concave points", "symmetry", "fractal dimension")
FEATURE_SETS = ("mean", "all")


@cache
def _breast_cancer():
    from sklearn.datasets import load_breast_cancer  # ships its data; no download

    data = load_breast_cancer()
    return data.data, data.target


def _number(value: float) -> str:
    """A value as the data writes it (up to 4 significant digits), without trailing zeros."""
    return format(float(value), "g")


def breast_cancer_text(row, features: str = "mean") -> str:
    """The text of one data row (30 values, in scikit-learn's column order)."""
    if features == "mean":
        values = ", ".join(f"{m} {_number(row[j])}" for j, m in enumerate(MEASUREMENTS))
        return f"Breast mass FNA, cell nuclei (mean values): {values}."
    values = ", ".join(
        f"{m} {_number(row[j])} ({_number(row[j + 10])}, {_number(row[j + 20])})"
        for j, m in enumerate(MEASUREMENTS))
    return f"Breast mass FNA, cell nuclei, mean (standard error, worst): {values}."


def generate_breast_cancer(n_items: int, seed: int, features: str = "mean",
                           balanced: bool = False) -> list[dict]:
    """``n_items`` rows of the data, sampled without replacement (seeded), in a seeded order.

    Stratified by diagnosis: the share of malignant rows is the data's (212/569) up to
    rounding, or one half when ``balanced`` (at most 424 rows then).
    """
    check_choice("features", features, FEATURE_SETS)
    if not isinstance(balanced, bool):
        raise ValueError(f"balanced must be true or false, got {balanced!r}")
    X, y = _breast_cancer()
    rows = {label: [i for i in range(len(y)) if y[i] == k] for k, label in enumerate(BC_LABELS)}
    limit = 2 * min(map(len, rows.values())) if balanced else len(y)
    if not 0 <= n_items <= limit:
        raise ValueError(f"n_items must lie in [0, {limit}] for breast_cancer"
                         f"{' with balanced: true' if balanced else ''}, got {n_items}")
    rng = random.Random(seed)
    share = 0.5 if balanced else len(rows["malignant"]) / len(y)
    n_malignant = round(n_items * share)
    chosen = (rng.sample(rows["malignant"], n_malignant)
              + rng.sample(rows["benign"], n_items - n_malignant))
    rng.shuffle(chosen)
    return [{"id": f"bc-{i:03d}", "text": breast_cancer_text(X[i], features),
             "label": BC_LABELS[int(y[i])], "row": i} for i in chosen]


BREAST_CANCER = LabelTask(
    name="breast_cancer",
    family="numeric_classification",
    description="Classify a breast-mass fine-needle aspirate as malignant or benign from its "
                "digitised cell-nucleus measurements (Wisconsin Diagnostic Breast Cancer data).",
    labels=BC_LABELS,
    instruction=(
        "Classify this breast mass fine-needle aspirate as malignant or benign from its "
        "cell-nucleus measurements. Larger, more irregular nuclei (high radius, area, "
        "concavity, concave points) suggest malignancy."
    ),
    build_items=generate_breast_cancer,
    aliases={
        "malignant": ("malignancy", "cancer", "cancerous", "carcinoma", "malignant tumor"),
        "benign": ("not malignant", "non-malignant", "nonmalignant", "not cancer",
                   "noncancerous", "non-cancerous", "no malignancy", "negative for malignancy"),
    },
)

# --- qSOFA --------------------------------------------------------------------------------------

QSOFA_LABELS = ("positive", "negative")
QSOFA_CRITERIA = ("rr", "sbp", "mentation")
RR_CUTOFF, SBP_CUTOFF = 22, 100  # a point when RR >= 22 or SBP <= 100
POSITIVE_VARIANTS = ("threshold", "bland")
NEGATIVE_VARIANTS = ("threshold", "sirs_mimic")


def qsofa(rr: int, sbp: int, gcs: int) -> int:
    """The qSOFA score: one point each for RR >= 22, SBP <= 100 and GCS < 15."""
    return int(rr >= RR_CUTOFF) + int(sbp <= SBP_CUTOFF) + int(gcs < 15)




@dataclass(frozen=True)
class _Context:
    text: str
    ages: tuple[int, int]  # the ages the context fits


@dataclass(frozen=True)
class _LowWords:  # words for a GCS of 12-13 and of 9-11
    gcs_12_13: tuple[str, ...]
    gcs_9_11: tuple[str, ...]


@dataclass(frozen=True)
class _Oxygen:
    room_air: tuple[str, ...]
    supplemental: tuple[str, ...]


_TABLE = Table("numeric")
# Context lines with the ages they fit; {reason} is picked to agree with the values.
CONTEXTS: tuple[tuple[str, int, int], ...] = tuple(
    (c.text, *c.ages) for c in _TABLE.get("contexts", tuple[_Context, ...]))
SURGERIES, REASONS, WARDS, ADMITS = (_TABLE.get(name, tuple[str, ...])
                                     for name in ("surgeries", "reasons", "wards", "admits"))
# Mental status: text for GCS 15, for "GCS 14" said in words, and for 9-13 (with the number).
MS_NORMAL, MS_CONFUSED, MS_LOW, MS_FORMS = (
    _TABLE.get(name, tuple[str, ...])
    for name in ("ms_normal", "ms_confused", "ms_low", "ms_forms"))
_LOW_WORDS = _TABLE.get("ms_low_words", _LowWords)
MS_LOW_WORDS = {True: _LOW_WORDS.gcs_12_13, False: _LOW_WORDS.gcs_9_11}
_OXYGEN = _TABLE.get("oxygen", _Oxygen)
ROOM_AIR, SUPPLEMENTAL = _OXYGEN.room_air, _OXYGEN.supplemental
OXYGEN = ROOM_AIR + SUPPLEMENTAL
VITALS, LABS, TRAILERS = (_TABLE.get(name, tuple[str, ...])
                          for name in ("vitals", "labs", "trailers"))
_TABLE.done()


def _reason(rng: random.Random, v: dict) -> str:
    """Why the nurse called: a neutral reason or one that the values bear out."""
    reasons = list(REASONS)
    if v["hr"] > 100:
        reasons += ["tachycardia", "HR in the 120s" if 120 <= v["hr"] < 130 else "tachycardia"]
    if v["sbp"] <= 100:
        reasons += ["hypotension", "low BP"]
    if v["temp_c"] >= 38:
        reasons += ["fever", "new fever"]
    if v["o2"] not in ROOM_AIR:
        reasons.append("new O2 requirement")
    if v["gcs"] < 15:
        reasons.append("change in mental status")
    return rng.choice(reasons)


def _gcs_parts(gcs: int, rng: random.Random) -> tuple[int, int, int]:
    """Eye, verbal and motor scores adding up to ``gcs`` (9-15), verbal lost first."""
    eye, verbal, motor = 4, 5, 6
    for _ in range(15 - gcs):
        if verbal > 3 and (eye <= 3 or rng.random() < 0.6):
            verbal -= 1
        elif eye > 2:
            eye -= 1
        else:
            motor -= 1
    return eye, verbal, motor


def _mental_status(gcs: int, numeric: bool, rng: random.Random) -> str:
    if gcs == 15:
        return "GCS 15" if numeric else rng.choice(MS_NORMAL + ("A&Ox3, GCS 15",))
    if gcs == 14 and not numeric:
        return rng.choice(MS_CONFUSED)
    if gcs == 14:
        return rng.choice(("GCS 14", "GCS 14 (E4V4M6)", "GCS 14, confused per RN"))
    e, v, m = _gcs_parts(gcs, rng)
    text = rng.choice(MS_LOW).format(gcs=gcs, e=e, v=v, m=m)
    if rng.random() < 0.6:
        text = f"{rng.choice(MS_LOW_WORDS[gcs >= 12])}, {text}"
    return text


def _values(rng: random.Random, met: set[str], variant: str) -> dict:
    """Vital signs and labs: the three criteria as ``met`` says, distractors by ``variant``."""
    threshold = variant == "threshold"
    at_cut = rng.choice(sorted(met)) if threshold and met else None
    # a met criterion at its cut-off; unmet ones next to it
    if "rr" in met:
        rr = rng.choice((22, 22, 23)) if at_cut == "rr" else rng.randint(23, 34)
    else:
        rr = rng.choice((20, 21, 21)) if threshold else rng.choice((12, 14, 16, 16, 17, 18, 18,
                                                                    19, 20, 20))
    if "sbp" in met:
        sbp = rng.choice((100, 100, 99)) if at_cut == "sbp" else rng.randint(72, 97)
    else:
        sbp = rng.choice((101, 101, 102, 104)) if threshold else rng.randint(106, 168)
    numeric_gcs = threshold or rng.random() < 0.4
    if "mentation" in met:
        gcs = 14 if at_cut == "mentation" or rng.random() < 0.6 else rng.randint(9, 13)
    else:
        gcs = 15
    sick = {"sirs_mimic": 1.0, "bland": 0.0}.get(variant, 0.7 if len(met) >= 2 else 0.3)
    fever = rng.random() < sick
    if fever:
        temp = round(rng.uniform(38.1, 40.1), 1) if rng.random() < 0.85 else round(
            rng.uniform(35.0, 35.9), 1)
    else:
        temp = round(rng.uniform(36.2, 37.6), 1)
    hr = rng.randint(104, 142) if rng.random() < sick else rng.randint(64, 98)
    spo2 = rng.randint(88, 94) if rng.random() < sick else rng.randint(95, 100)
    if spo2 < 92 and rng.random() < 0.6:
        o2 = rng.choice(SUPPLEMENTAL)
    else:
        o2 = rng.choice(ROOM_AIR if spo2 >= 97 and rng.random() < 0.7 else OXYGEN)
    show_labs = variant == "sirs_mimic" or rng.random() < 0.5
    lactate = wbc = None
    if show_labs:
        high = rng.random() < sick
        lactate = round(rng.uniform(2.2, 6.4) if high else rng.uniform(0.6, 1.9), 1)
        wbc = round(rng.uniform(13.0, 26.0) if high else rng.uniform(4.5, 10.8), 1)
        if high and rng.random() < 0.15:
            wbc = round(rng.uniform(1.2, 3.8), 1)  # leukopenia
    dbp = round(sbp * rng.uniform(0.48, 0.68))
    return {"rr": rr, "sbp": sbp, "dbp": dbp, "gcs": gcs, "hr": hr, "temp_c": temp,
            "spo2": spo2, "o2": o2, "lactate": lactate, "wbc": wbc, "gcs_numeric": numeric_gcs}


def _note(rng: random.Random, v: dict) -> str:
    template, young, old = rng.choice(CONTEXTS)
    age, sex = rng.randint(young, old), rng.choice(("M", "F"))
    context = template.format(
        age=age if rng.random() < 0.7 else f"{age} yo ", sex=sex, pod=rng.randint(1, 6),
        surgery=rng.choice(SURGERIES), reason=_reason(rng, v), ward=rng.choice(WARDS),
        day=rng.randint(5, 14), cycle=rng.randint(1, 6), admit=rng.choice(ADMITS))
    if rng.random() < 0.35:
        t = f"{v['temp_c'] * 9 / 5 + 32:.1f}F"
    else:
        t = f"{v['temp_c']:.1f}" + rng.choice(("", "C"))
    fever_word = "Febrile to" if v["temp_c"] >= 38 else "T"
    vitals = rng.choice(VITALS).format(
        t=t, hr=v["hr"], sbp=v["sbp"], dbp=v["dbp"], rr=v["rr"], spo2=v["spo2"], o2=v["o2"],
        map=round((v["sbp"] + 2 * v["dbp"]) / 3), fever=fever_word)
    ms = _mental_status(v["gcs"], v["gcs_numeric"], rng)
    mental = rng.choice(MS_FORMS).format(ms=ms, Ms=cap(ms))
    parts = [context, vitals, mental]
    if v["lactate"] is not None:
        template = rng.choice(LABS)
        lab = template.format(lac=v["lactate"], wbc=v["wbc"])
        for key, slot in (("lactate", "{lac}"), ("wbc", "{wbc}")):
            if slot not in template:  # the item records only the values the note shows
                v[key] = None
        parts.insert(rng.choice((2, 3)), lab)
    trailer = rng.choice(TRAILERS)
    if rng.random() < 0.3:  # mental status before the vitals
        parts[1], parts[2] = parts[2], parts[1]
    return " ".join(p for p in parts + [trailer] if p)


def _draft_note(rng: random.Random, met: set[str], variant: str) -> tuple[dict, str]:
    """Values for one item and a note showing them."""
    values = _values(rng, met, variant)
    return values, _note(rng, values)


def generate_vitals(n_items: int, seed: int, hard_share: float = 0.4,
                    typo_rate: float = 0.02) -> list[dict]:
    """``n_items`` distinct notes, half ``positive`` (qSOFA >= 2) and half ``negative`` (exact
    up to rounding), a share ``hard_share`` of them hard (exact up to rounding, split between
    the labels in proportion). Typos (``typo_rate`` per word) never touch a word holding a
    digit and come from a separate per-item generator, so labels and values do not depend on
    ``typo_rate``.
    """
    check_settings(n_items, hard_share=hard_share, typo_rate=typo_rate)
    rng = random.Random(seed)
    plan = balanced_hard_plan(rng, n_items, QSOFA_LABELS, hard_share)

    items, texts = [], DistinctTexts(seed, typo_rate, "note")
    for i, (label, hard) in enumerate(plan):
        variant = rng.choice(POSITIVE_VARIANTS if label == "positive" else NEGATIVE_VARIANTS
                             ) if hard else "easy"
        if label == "positive":
            score = 2 if variant in ("threshold", "bland") or rng.random() < 0.65 else 3
        else:
            score = 1 if variant == "threshold" or rng.random() < 0.6 else 0
        met = set(rng.sample(QSOFA_CRITERIA, score))
        (values, _), text = texts.write(i, _draft_note, rng, met, variant,
                                        text_of=itemgetter(1))
        values.pop("gcs_numeric")
        assert qsofa(values["rr"], values["sbp"], values["gcs"]) == score
        items.append({"id": f"qsofa-{i:05d}", "text": text, "label": label, "qsofa": score,
                      "criteria": [c for c in QSOFA_CRITERIA if c in met], **values,
                      "variant": variant, "hard": hard})
    return items


SEPSIS_QSOFA = LabelTask(
    name="sepsis_qsofa",
    family="numeric_classification",
    description="Score qSOFA from an ED or ward note's vitals and mental status: positive "
                "(score >= 2) or negative.",
    labels=QSOFA_LABELS,
    instruction=(
        "Score qSOFA from this note: 1 point each for respiratory rate >= 22/min, systolic BP "
        "<= 100 mmHg, and altered mentation (GCS < 15, confused or disoriented). Positive if "
        "the score is 2 or more, else negative. Other values do not count."
    ),
    build_items=generate_vitals,
    aliases={
        "positive": ("qsofa positive", "qsofa-positive", "pos", "high risk", "high-risk",
                     "qsofa >= 2", "qsofa ≥ 2", "qsofa ≥2"),
        "negative": ("qsofa negative", "qsofa-negative", "neg", "not positive", "low risk",
                     "low-risk", "qsofa < 2", "qsofa <2"),
    },
)
