"""The built-in data of the summarisation task (``hospital_course_summary``): synthetic brief
hospital courses and patient-portal messages, each with a reference summary and its key facts.

:func:`generate_notes` is the entry point (see its docstring). Every note is written by one
scenario function of ``SCENARIOS`` (eleven hospital courses and four patient messages) from
seeded draws; the note's layout, the distractors and the typos are added here too. The task
that grades the summaries is :mod:`sftdpo.tasks.summary`; this module reads its ``DRUGS``
(drug names get no typos) and ``HARD_VARIANTS``, and that module imports this one at its end,
after both (the package imports it first, so importing this module on its own works too).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

from sftdpo.tasks.summary import DRUGS, HARD_VARIANTS
from sftdpo.tasks.toolkit import (
    DistinctTexts,
    abbreviate,
    add_typos,
    cap,
    check_settings,
    cycled,
    fill,
)


@dataclass
class _Case:
    parts: list[tuple[str, str]]  # (section, sentence) of the note, in order
    ref: list[str]  # reference sentences
    facts: list[str]
    message: bool = False
    avoid: tuple[str, ...] = ()  # distractor tags that would clash with the case


@dataclass(frozen=True)
class _Patient:
    age: int
    male: bool

    @property
    def sex(self) -> str:
        return "M" if self.male else "F"

    @property
    def man(self) -> str:
        return "man" if self.male else "woman"


def _who(r: random.Random, p: _Patient) -> str:
    return r.choice((f"{p.age}{p.sex}", f"{p.age} y/o {p.sex}", f"{p.age}yo {p.sex}",
                     f"{p.age} yo {p.man}", f"{p.age}-year-old {p.man}",
                     f"Pt is {'an' if str(p.age)[0] == '8' else 'a'} {p.age} y/o {p.man}"))


def _who_ref(r: random.Random, p: _Patient) -> str:
    return r.choice((f"{p.age}-year-old {p.man}", f"{p.age}{p.sex}"))


def _pmh(r: random.Random, options: tuple[str, ...], k: tuple[int, int] = (1, 3)) -> str:
    chosen = r.sample(options, r.randint(*k))
    return ", ".join(chosen[:-1]) + (" and " if len(chosen) > 1 else "") + chosen[-1]


def _c(r: random.Random, *options: str) -> str:
    return r.choice(options)


def _days(r: random.Random, lo: int = 2, hi: int = 6) -> int:
    return r.randint(lo, hi)


def _details(parts: list, r: random.Random, details: list[str], k: tuple[int, int] = (3, 4),
             at: int = 1) -> None:
    """Insert ``k`` of ``details`` (vitals, exam, labs: true but not key). In a message they
    go at ``at`` in order; in a note the first two (arrival vitals, exam) go right after the
    admission sentence and the others anywhere later in the course."""
    chosen = sorted(r.sample(range(len(details)), r.randint(*k)))
    if not isinstance(parts[0], tuple):
        for offset, i in enumerate(chosen):
            parts.insert(at + offset, details[i])
        return
    early = [i for i in chosen if i < 2]
    for offset, i in enumerate(early):
        parts.insert(1 + offset, ("course", details[i]))
    for i in chosen[len(early):]:
        end = _course_end(parts)
        parts.insert(r.randint(min(2 + len(early), end), end), ("course", details[i]))


def _course_end(parts: list[tuple[str, str]]) -> int:
    return next((j for j, (section, _) in enumerate(parts) if section not in ("hpi", "course")),
                len(parts))


# --- hospital courses ------------------------------------------------------------------------


def _chf(r: random.Random, p: _Patient, variant: str) -> _Case:
    ef = r.choice((20, 25, 30, 35))
    net = r.randint(28, 62) / 10
    w1 = r.randint(720, 1180) / 10
    home = r.choice(("20 mg daily", "40 mg daily"))
    new = r.choice({"20 mg daily": ("40 mg daily", "40 mg BID", "20 mg BID"),
                    "40 mg daily": ("40 mg BID", "80 mg daily", "60 mg daily")}[home])
    htn = r.random() < 0.25
    sbp, dbp = ((r.randint(185, 210), r.randint(95, 115)) if htn else
                (r.randint(128, 172), r.randint(70, 96)))
    trigger, trigger_note = ("uncontrolled hypertension", f"HTN urgency, BP {sbp}/{dbp} on "
                             "arrival") if htn else r.choice((
        ("dietary indiscretion", "dietary indiscretion (holiday meals, canned soup)"),
        ("missed diuretic doses", "running out of furosemide ~1 wk PTA"),
        ("NSAID use", f"ibuprofen {r.choice((400, 600, 800))} mg TID for knee pain x2 wks"),
    ))
    newmed = r.choice(("spironolactone 12.5 mg daily", "spironolactone 25 mg daily",
                       "empagliflozin 10 mg daily", "dapagliflozin 10 mg daily"))
    clinic = r.choice(("HF clinic", "cardiology"))
    fu = r.choice(("1 week", "5 days", "10 days", "2 weeks"))
    pending = r.choice(("iron studies", "TSH", ""))
    who = _who(r, p)
    pmh = _pmh(r, ("HTN", "CKD3a", "DM2", "OSA on CPAP", "CAD s/p PCI 2018", "hypothyroidism"))
    parts = [
        ("hpi", _c(r, f"{who} w/ HFrEF (EF {ef}%), {pmh} p/w {_days(r, 4, 10)}d of progressive "
                      f"DOE, orthopnea and ~{r.randint(3, 6)} kg wt gain.",
                   f"{who} with h/o HFrEF (EF {ef}%), {pmh}, admitted for worsening SOB and "
                   f"bilateral LE edema x{_days(r, 3, 9)} days.")),
        ("course", f"BNP {r.randint(1200, 4800):,}, CXR w/ pulm vascular congestion"
                   f"{_c(r, '', ' and small bilat effusions')}."),
        ("course", f"Precipitant felt to be {trigger_note}."),
        ("course", f"Diuresed w/ IV furosemide {r.choice((40, 60, 80))} mg BID, net -{net} L, "
                   f"wt {w1} -> {round(w1 - net + r.randint(-5, 5) / 10, 1)} kg."),
        ("course", f"Cr {r.randint(11, 16) / 10} -> {r.randint(12, 18) / 10}, stable."),
    ]
    _details(parts, r, [
        f"On arrival BP {sbp}/{dbp}, HR {r.randint(88, 112)}, SpO2 {r.randint(86, 92)}% RA, "
        "placed on 2 L NC.",
        f"Exam: JVD to {_c(r, 'angle of jaw', 'mid-neck')}, bibasilar crackles, "
        f"{r.randint(2, 3)}+ pitting edema to knees.",
        f"Weaned to RA by HD{r.randint(2, 4)}. Tele w/o arrhythmia.",
        f"Na {r.randint(131, 138)}, Mg {r.randint(17, 23) / 10}, Hgb {r.randint(104, 138) / 10}.",
        "Home metoprolol succinate and sacubitril-valsartan continued."])
    ref1 = (f"{_who_ref(r, p)} with HFrEF admitted with acute decompensated heart failure due "
            f"to {trigger}, diuresed with IV furosemide (net -{net} L).")
    facts = [f"acute decompensated heart failure due to {trigger}",
             f"diuresed with IV furosemide (net -{net} L)", f"discharged on furosemide {new}"]
    if variant == "negated_finding":
        parts.insert(3, ("course", _c(r, "Trop flat x2, ECG w/o ischemic changes; ACS ruled out.",
                                      "Troponin 0.02 -> 0.02, no ischemic ECG changes, ACS "
                                      "ruled out.")))
        ref1 = ref1[:-1] + "; ACS ruled out."
        facts.insert(1, "ACS ruled out")
    if variant == "changed_plan":
        drug = r.choice(("spironolactone", "empagliflozin"))
        if drug == "spironolactone":
            newmed = "spironolactone 12.5 mg daily"
            change = ("Started spironolactone 25 mg daily HD2, K rose to "
                      f"{r.randint(54, 59) / 10}, dose decreased to 12.5 mg daily.")
            ref_new = "spironolactone decreased to 12.5 mg daily for hyperkalemia"
        else:
            newmed = "empagliflozin 10 mg daily"
            change = ("Plan was to start dapagliflozin but not covered by insurance, "
                      "empagliflozin 10 mg daily started instead.")
            ref_new = "started empagliflozin 10 mg daily instead of dapagliflozin"
        meds = [("meds", f"Home furosemide {home} changed to {new} PO."), ("meds", change)]
    else:
        meds = [("meds", f"Home furosemide {home} changed to {new} PO."),
                ("meds", f"Started {newmed}; K {r.randint(38, 46) / 10} at d/c.")]
        ref_new = f"started {newmed}"
    parts += meds
    parts.append(("fu", f"Daily weights and 2 g Na diet reviewed w/ pt. F/u {clinic} in {fu} "
                        "w/ BMP."))
    ref3 = f"{clinic} follow-up in {fu} with BMP"
    facts += [ref_new, f"{clinic} follow-up in {fu} with BMP"]
    if pending and len(facts) < 6 and variant != "changed_plan":
        parts.append(("pending", f"{pending} pending at discharge."))
        ref3 += f"; {pending} pending"
        facts.append(f"{pending} pending")
    ref = [ref1, f"Discharged on furosemide {new}; {ref_new}.",
           cap(ref3) + "."]
    return _Case(parts, ref, facts, avoid=("potassium",))


def _pneumonia(r: random.Random, p: _Patient, variant: str) -> _Case:
    lobe = r.choice(("RLL", "LLL", "RML", "LUL", "RUL"))
    side = "R" if lobe[0] == "R" else "L"
    step = r.choice(("amoxicillin-clavulanate 875 mg BID", "cefpodoxime 200 mg BID",
                     "doxycycline 100 mg BID"))
    days = r.choice((5, 7))
    o2 = r.choice((2, 3, 4, 5))
    fu = r.choice(("1 week", "10 days", "2 weeks"))
    cxr = r.choice((6, 8))
    tmax = r.randint(1012, 1034) / 10
    who = _who(r, p)
    pmh = _pmh(r, ("COPD", "DM2", "HTN", "CKD3", "former smoker (30 pk-yr)", "RA on MTX"))
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w {_days(r)}d of productive cough, fevers to {tmax} and "
                f"pleuritic {side}-sided CP."),
        ("course", f"WBC {r.randint(132, 224) / 10}, lactate {r.randint(12, 31) / 10}; CXR w/ "
                   f"{lobe} consolidation."),
        ("course", f"Started ceftriaxone + azithromycin; required up to {o2} L NC, weaned to RA "
                   f"by HD{r.randint(2, 4)}."),
        ("course", _c(r, "Strep pneumo urine Ag positive, legionella neg.",
                      "Resp viral panel neg.", "Sputum cx w/ normal flora.")),
    ]
    _details(parts, r, [
        f"On arrival T {r.randint(1008, 1030) / 10}, HR {r.randint(98, 124)}, RR "
        f"{r.randint(22, 30)}, SpO2 {r.randint(86, 91)}% RA.",
        f"Exam w/ crackles and egophony at the {side} base.",
        f"Procalcitonin {r.randint(8, 46) / 10}. Flu/COVID PCR neg.",
        "Incentive spirometry and early ambulation encouraged.",
        "Home lisinopril held HD1 for soft BPs, resumed HD2."])
    ref1 = (f"{_who_ref(r, p)} admitted with {lobe} community-acquired pneumonia, treated with "
            f"ceftriaxone and azithromycin and weaned from {o2} L to room air.")
    facts = [f"{lobe} community-acquired pneumonia", "treated with ceftriaxone and azithromycin",
             f"weaned from {o2} L to room air"]
    if variant == "negated_finding":
        parts.insert(3, ("course", f"CTA chest for HR {r.randint(118, 135)}: no PE."))
        ref1 = ref1[:-1] + "; CTA negative for PE."
        facts.append("CTA negative for PE")
    if variant == "changed_plan":
        step = "doxycycline 100 mg BID"
        parts.append(("meds", f"Transitioned to cefpodoxime 200 mg BID on HD{r.randint(2, 3)}, "
                              "developed urticarial rash on trunk that evening -> cefpodoxime "
                              f"stopped, switched to doxycycline 100 mg BID to complete {days} "
                              "days total."))
        ref2 = (f"Cefpodoxime stopped for a rash; discharged on {step} to complete {days} "
                "days.")
        facts += ["cefpodoxime stopped for a rash", f"discharged on {step} to complete {days} days"]
    else:
        parts.append(("meds", f"Transitioned to {step} to complete {days} days total abx."))
        ref2 = f"Discharged on {step} to complete {days} days."
        facts.append(f"discharged on {step} to complete {days} days")
    parts.append(("fu", f"F/u PCP in {fu}; repeat CXR in {cxr} wks to document resolution."))
    ref3 = f"PCP follow-up in {fu} with repeat CXR in {cxr} weeks."
    facts.append(f"repeat CXR in {cxr} weeks")
    if len(facts) < 6:
        facts.append(f"PCP follow-up in {fu}")
    return _Case(parts, [ref1, ref2, ref3], facts)


def _copd(r: random.Random, p: _Patient, variant: str) -> _Case:
    abx, abx_name = r.choice((("azithromycin 250 mg daily", "azithromycin"),
                              ("doxycycline 100 mg BID", "doxycycline")))
    baseline = r.choice(("2 L", "3 L", "room air"))
    inhaler = r.choice(("tiotropium 18 mcg daily", "umeclidinium-vilanterol 1 puff daily"))
    trigger, trigger_note = r.choice((("a viral URI", "RVP + rhinovirus"),
                                      ("a viral URI", "sick contacts at home, RVP + RSV"),
                                      ("running out of inhalers",
                                       "ran out of Spiriva and albuterol 2 wks ago (cost)")))
    fu = r.choice(("2 weeks", "3 weeks", "1 month"))
    who = _who(r, p)
    smoker = r.random() < 0.5
    qtc = variant == "changed_plan" and abx_name == "azithromycin"
    treated = (f"Treated w/ duonebs q4h, prednisone 40 mg daily and {abx}." if not qtc else
               "Treated w/ duonebs q4h and prednisone 40 mg daily; azithromycin started but "
               f"stopped HD2 for QTc {r.randint(505, 530)}, switched to doxycycline 100 mg BID.")
    parts = [
        ("hpi", f"{who} w/ severe COPD (FEV1 {r.randint(28, 45)}% pred"
                f"{', on home O2 ' + baseline if baseline != 'room air' else ', no home O2'}), "
                f"{'active smoker 1 ppd' if smoker else 'quit smoking 2015'}, admitted w/ "
                f"{_days(r, 2, 5)}d of worsening dyspnea, wheeze and increased sputum."),
        ("course", f"Trigger: {trigger_note}. VBG 7.{r.randint(29, 36)}/{r.randint(52, 66)}."),
        ("course", treated),
        ("course", f"O2 req peaked at {r.randint(4, 6)} L NC, back to baseline "
                   f"{baseline} by HD{r.randint(3, 5)}."),
    ]
    if smoker:
        parts.append(("course", "Counseled on cessation, nicotine patch 21 mg/day started."))
    _details(parts, r, [
        f"On arrival RR {r.randint(24, 32)}, SpO2 {r.randint(82, 88)}%, using accessory "
        "muscles.",
        "Diffuse expiratory wheezes, prolonged expiratory phase.",
        "No BiPAP needed.",
        "Inhaler technique reviewed by RT; spacer provided.",
        f"Eos {r.randint(150, 420)} on CBC."])
    ref1 = (f"{_who_ref(r, p)} admitted with a COPD exacerbation triggered by "
            f"{trigger}, treated with nebulizers, prednisone and {abx_name}.")
    facts = [f"COPD exacerbation triggered by {trigger}",
             f"treated with nebulizers, prednisone and {abx_name}",
             f"oxygen back to baseline {baseline}"]
    if variant == "negated_finding":
        parts.insert(2, ("course", _c(r, "CXR hyperinflated, no infiltrate.",
                                      "CXR: no focal consolidation, hyperinflation.")))
        ref1 = ref1[:-1] + "; CXR showed no pneumonia."
        facts.insert(1, "CXR showed no pneumonia")
    ref2 = f"Oxygen back to baseline {baseline}; completes prednisone 40 mg daily for 5 days"
    if qtc:
        ref1 = ref1.replace("prednisone and azithromycin", "prednisone and antibiotics")
        facts[1] = "treated with nebulizers, prednisone and antibiotics"
        ref2 = ("Azithromycin stopped for prolonged QTc, switched to doxycycline 100 mg BID. "
                + ref2)
        facts.append("azithromycin stopped for prolonged QTc")
    elif variant == "changed_plan":
        parts.append(("meds", "Planned prednisone taper changed to a fixed 5-day course given "
                              f"steroid-induced hyperglycemia (BG to {r.randint(31, 38)}0s)."))
        ref2 += " (fixed course, no taper, given hyperglycemia)"
    parts += [("meds", "Prednisone 40 mg daily to complete 5 days total."),
              ("meds", f"Started {inhaler}; continue albuterol PRN."),
              ("fu", f"F/u pulm in {fu}; PFTs as outpatient.")]
    ref2 += f" and started {inhaler}."
    if len(facts) < 6:
        facts.append("prednisone 40 mg daily for 5 days")
    facts.append(f"started {inhaler}")
    if len(facts) < 6:
        facts.append(f"pulmonology follow-up in {fu}")
    ref = [ref1, ref2] + ([f"Pulmonology follow-up in {fu}."] if len(facts) < 7 and
                          f"pulmonology follow-up in {fu}" in facts else [])
    return _Case(parts, ref, facts)


def _afib(r: random.Random, p: _Patient, variant: str) -> _Case:
    pmh = _pmh(r, ("HTN", "DM2", "hyperlipidemia", "obesity", "GERD"), (1, 2))

    def chads_vasc(age: int) -> int:  # no CHF, stroke or vascular disease in these patients
        return ((2 if age >= 75 else 1 if age >= 65 else 0) + (not p.male) + ("HTN" in pmh)
                + ("DM2" in pmh))
    if variant == "changed_plan":  # apixaban dose reduction: age >= 80 and Cr >= 1.5
        p = _Patient(r.randint(80, 90), p.male)
    elif chads_vasc(p.age) < (2 if p.male else 3):  # old enough to need anticoagulation
        p = _Patient(r.randint(75, 89), p.male)
    cha = chads_vasc(p.age)
    rate = r.choice(("metoprolol succinate 50 mg daily", "metoprolol succinate 100 mg daily",
                     "diltiazem ER 180 mg daily"))
    anticoag = r.choice(("apixaban 5 mg BID", "rivaroxaban 20 mg daily"))
    ef = r.choice((50, 55, 60, 65))
    fu = r.choice((1, 2, 3))
    who = _who(r, p)
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w palpitations and lightheadedness x{_days(r, 1, 4)} days, "
                f"found in new-onset AF w/ RVR to {r.randint(13, 17)}0s."),
        ("course", f"Rate controlled w/ IV diltiazem bolus + gtt, transitioned to {rate}."),
        ("course", f"TTE: EF {ef}%, mild LAE, no significant valve disease. TSH "
                   f"{r.randint(8, 31) / 10} (nl)."),
        ("course", "Remained in AF w/ HR 70-90s; plan outpatient DCCV after 3 wks of "
                   "uninterrupted anticoagulation if still in AF."),
    ]
    _details(parts, r, [
        f"On arrival BP {r.randint(104, 152)}/{r.randint(62, 94)}, no chest pain; ECG AF, no "
        "ischemic changes.",
        "Trop neg x2. Lytes nl, Mg repleted to 2.0.",
        "Drinks ~2-3 beers/day, counseled on alcohol as AF trigger.",
        "Sleep study referral placed for suspected OSA (snoring, daytime somnolence).",
        f"Converted to sinus briefly on HD2 then back in AF; HR {r.randint(72, 88)} at rest."])
    ref1 = (f"{_who_ref(r, p)} admitted with new-onset atrial fibrillation with RVR, rate "
            f"controlled on {rate}.")
    facts = ["new-onset atrial fibrillation with RVR", f"rate controlled on {rate}"]
    if variant == "changed_plan":
        cr = r.randint(15, 19) / 10
        parts.insert(2, ("course", f"CHA2DS2-VASc {cha}. Apixaban 5 mg BID started HD1, reduced "
                                   f"to 2.5 mg BID on HD2 given age {p.age} and Cr {cr}."))
        ref2 = (f"Started apixaban, reduced to 2.5 mg BID for age and creatinine; echo showed "
                f"EF {ef}%.")
        facts.append("apixaban reduced to 2.5 mg BID for age and creatinine")
    else:
        parts.insert(2, ("course", f"CHA2DS2-VASc {cha} -> started {anticoag} after discussion "
                                   "of risks/benefits."))
        ref2 = f"Started {anticoag} for CHA2DS2-VASc {cha}; echo showed EF {ef}%."
        facts.append(f"started {anticoag} for CHA2DS2-VASc {cha}")
    if variant == "negated_finding":
        parts.insert(2, ("course", "CTA chest (pleuritic CP, HR 150s) negative for PE."))
        ref1 = ref1[:-1] + "; CTA negative for PE."
        facts.append("CTA negative for PE")
    else:
        facts.append(f"echo showed EF {ef}%")
    parts.append(("fu", f"F/u cardiology in {fu} wk{'s' if fu > 1 else ''}; Zio patch to be "
                        "mailed."))
    week = f"{fu} week{'s' if fu > 1 else ''}"
    ref3 = (f"Cardiology follow-up in {week}; cardioversion after 3 weeks of "
            "anticoagulation.")
    facts += [f"cardiology follow-up in {week}", "cardioversion after 3 weeks of anticoagulation"]
    return _Case(parts, [ref1, ref2, ref3], facts[:6])


def _dka(r: random.Random, p: _Patient, variant: str) -> _Case:
    p = _Patient(r.randint(19, 58), p.male)
    ph = f"7.{r.randint(5, 24):02d}"
    glargine = r.randint(16, 30)
    lispro = r.randint(4, 8)
    a1c = r.randint(95, 134) / 10
    hours = r.randint(10, 22)
    fu = r.choice(("1 week", "2 weeks"))
    trigger, trigger_note = r.choice((
        ("missed insulin doses", "running out of insulin 3 days ago (insurance lapse)"),
        ("gastroenteritis", "2 days of N/V/diarrhea, insulin held d/t poor PO intake"),
        ("missed insulin doses", "skipping glargine for several days ('forgot')")))
    who = _who(r, p)
    parts = [
        ("hpi", f"{who} w/ T1DM since age {r.randint(8, 16)} admitted in DKA after "
                f"{trigger_note}: BG {r.randint(420, 690)}, AG {r.randint(22, 33)}, pH {ph}, "
                f"BHB {r.randint(45, 92) / 10}."),
        ("course", f"Started insulin gtt + IVF per DKA protocol w/ K repletion; AG closed in "
                   f"{hours} hrs."),
        ("course", f"A1c {a1c}%. Seen by diabetes educator, pump candidacy to be discussed "
                   "as outpatient."),
    ]
    _details(parts, r, [
        f"On arrival HR {r.randint(108, 132)}, RR {r.randint(24, 32)} (Kussmaul), BP "
        f"{r.randint(96, 124)}/{r.randint(58, 78)}, dry mucous membranes.",
        f"K {r.randint(52, 61) / 10} on arrival, phos {r.randint(12, 19) / 10} repleted.",
        "Received 4 L LR over the first 12 hrs.",
        "Insulin pen technique and sick-day rules reviewed w/ pt.",
        "Urine tox neg; TSH nl."])
    ref1 = (f"{_who_ref(r, p)} with type 1 diabetes admitted in DKA (pH {ph}) after {trigger}, "
            f"treated with an insulin drip; gap closed in {hours} hours.")
    facts = [f"DKA (pH {ph}) after {trigger}", "treated with an insulin drip"]
    if variant == "negated_finding":
        parts.insert(2, ("course", f"Lipase {r.randint(20, 60)} (nl), no pancreatitis; "
                                   "CXR/UA w/o infection."))
        ref1 = ref1[:-1] + "; no pancreatitis."
        facts.append("no pancreatitis")
    if variant == "changed_plan":
        parts.append(("meds", f"Transitioned to SC glargine {glargine + 4} units qHS, reduced to "
                              f"{glargine} units after fasting BG {r.randint(52, 66)} on HD3; "
                              f"lispro {lispro} units TID w/ meals + correction scale."))
        ref2 = (f"Glargine reduced to {glargine} units nightly after hypoglycemia; lispro "
                f"{lispro} units with meals; A1c {a1c}%.")
        facts.append(f"glargine reduced to {glargine} units nightly after hypoglycemia")
    else:
        parts.append(("meds", f"Transitioned to SC insulin: glargine {glargine} units qHS + "
                              f"lispro {lispro} units TID w/ meals plus correction scale."))
        ref2 = (f"Discharged on glargine {glargine} units nightly and lispro {lispro} units with "
                f"meals; A1c {a1c}%.")
        facts.append(f"glargine {glargine} units nightly")
    facts.append(f"lispro {lispro} units with meals")
    if len(facts) < 5:
        facts.append(f"A1c {a1c}%")
    parts.append(("fu", f"F/u endocrine in {fu}; new glucometer/strips sent to pharmacy."))
    facts.append(f"endocrinology follow-up in {fu}")
    return _Case(parts, [ref1, ref2, f"Endocrinology follow-up in {fu}."], facts,
                 avoid=("potassium",))


def _gi_bleed(r: random.Random, p: _Patient, variant: str) -> _Case:
    low = r.randint(61, 74) / 10
    units = r.randint(1, 3)
    size = r.choice(("1", "1.5", "2"))
    loc = r.choice(("gastric antral", "duodenal bulb", "gastric body"))
    nsaid, why = r.choice((("ibuprofen", "back pain"), ("naproxen", "knee OA"),
                           ("ibuprofen", "headaches")))
    who = _who(r, p)
    clean = variant == "negated_finding"
    finding = ("clean base, no high-risk stigmata, no intervention" if clean else
               r.choice(("visible vessel, treated w/ epi + 2 clips",
                         "adherent clot, removed, bipolar cautery + clip")))
    parts = [
        ("hpi", f"{who} taking OTC {nsaid} daily for {why} p/w {_days(r, 1, 4)}d of melena "
                f"and lightheadedness; Hgb {low} (baseline ~{r.randint(115, 135) / 10}), BUN "
                f"{r.randint(38, 72)}."),
        ("course", f"Transfused {units} unit{'s' if units > 1 else ''} PRBC, IV pantoprazole "
                   "gtt."),
        ("course", f"EGD HD1: {size} cm {loc} ulcer w/ {finding}."),
        ("course", f"No further melena, HD stable; Hgb {r.randint(84, 99) / 10} on day of d/c."),
        ("meds", f"{nsaid.capitalize()} stopped, avoid all NSAIDs. Pantoprazole 40 mg BID x 8 "
                 "wks then daily."),
        ("pending", "H. pylori biopsies pending."),
        ("fu", "F/u PCP 1 wk w/ CBC; GI clinic to call re: repeat EGD."),
    ]
    _details(parts, r, [
        f"On arrival HR {r.randint(102, 124)}, BP {r.randint(88, 108)}/{r.randint(50, 66)}, "
        "orthostatic.",
        "Rectal exam w/ black tarry stool; 2 large-bore IVs, type and cross.",
        f"INR {r.randint(10, 12) / 10}, plt {r.randint(160, 340)}K.",
        "GI consulted, EGD within 24 hrs.",
        "Diet advanced after EGD, tolerated."])
    unit_text = f"{units} unit{'s' if units > 1 else ''}"
    ulcer = (f"a {size} cm {loc} ulcer without high-risk stigmata" if clean else
             f"a {size} cm {loc} ulcer treated endoscopically")
    ref1 = (f"{_who_ref(r, p)} admitted with an upper GI bleed from {ulcer} ({nsaid} use); "
            f"transfused {unit_text} PRBC for Hgb {low}.")
    facts = [f"{size} cm {loc} ulcer" + (" without high-risk stigmata" if clean else ""),
             f"transfused {unit_text} PRBC for Hgb {low}"]
    if variant == "changed_plan":
        parts.insert(4, ("meds", "Home aspirin 81 mg held on admission, resumed HD3 per "
                                 f"cardiology (DES {r.randint(2019, 2023)})."))
        ref2 = (f"{nsaid.capitalize()} stopped and aspirin 81 mg resumed per cardiology; "
                "pantoprazole 40 mg BID for 8 weeks.")
        facts += [f"{nsaid} stopped", "aspirin 81 mg resumed per cardiology"]
    else:
        ref2 = f"{nsaid.capitalize()} stopped; discharged on pantoprazole 40 mg BID for 8 weeks."
        facts.append(f"{nsaid} stopped")
    facts.append("pantoprazole 40 mg BID for 8 weeks")
    facts.append("H. pylori biopsies pending")
    ref3 = "H. pylori biopsies pending."
    if len(facts) < 6:
        facts.append("CBC with PCP in 1 week")
        ref3 = "H. pylori biopsies pending; CBC with PCP in 1 week."
    return _Case(parts, [ref1, ref2, ref3], facts, avoid=("anemia",))


def _cellulitis(r: random.Random, p: _Patient, variant: str) -> _Case:
    side = r.choice(("left", "right"))
    oral, days = r.choice((("cephalexin 500 mg QID", 7), ("cephalexin 500 mg QID", 10),
                           ("dicloxacillin 500 mg QID", 7)))
    n = r.choice((2, 3, 5))
    cause = r.choice(("a scrape from gardening", "a dog scratch", "a blister from new shoes", ""))
    after = f" after {cause}" if cause else ""
    who = _who(r, p)
    pmh = _pmh(r, ("DM2", "obesity", "chronic venous stasis", "lymphedema", "HTN"), (1, 2))
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w {_days(r)}d of {side[0].upper()} lower leg erythema, "
                f"warmth and swelling{after or ' w/o clear skin break'}; Tmax "
                f"{r.randint(1003, 1027) / 10}."),
        ("course", f"WBC {r.randint(110, 176) / 10}. Borders marked on arrival. Started IV "
                   f"cefazolin w/ improvement, erythema receding by HD{r.randint(2, 3)}."),
        ("course", "Interdigital tinea noted, clotrimazole cream started; leg elevation."),
    ]
    _details(parts, r, [
        f"On arrival T {r.randint(1001, 1026) / 10}, HR {r.randint(92, 112)}, BP nl.",
        f"Erythema ~{r.randint(8, 16)} x {r.randint(6, 12)} cm over anterior shin, no "
        "fluctuance or crepitus.",
        "Blood cx NGTD.",
        f"A1c {r.randint(68, 94) / 10}%; home metformin continued." if "DM2" in pmh else
        "Tetanus booster given.",
        "Pain controlled w/ acetaminophen."])
    ref1 = (f"{_who_ref(r, p)} with {pmh} admitted with {side} lower extremity cellulitis"
            f"{after}, improved on IV cefazolin.")
    facts = [f"{side} lower extremity cellulitis", "improved on IV cefazolin"]
    if variant == "negated_finding":
        parts.insert(2, ("course", f"{side[0].upper()} LE US: no abscess. Duplex negative for "
                                   "DVT."))
        ref1 = ref1.replace(after, "")[:-1] + ("; no abscess on ultrasound and duplex negative "
                                               "for DVT.")
        facts += ["no abscess on ultrasound", "duplex negative for DVT"]
    if variant == "changed_plan":
        oral, days = "doxycycline 100 mg BID", 10
        parts.append(("meds", "Planned transition to cephalexin, but wound cx from draining "
                              "blister grew MRSA -> switched to doxycycline 100 mg BID to "
                              "complete 10 days total."))
        ref2 = "Wound culture grew MRSA, so discharged on doxycycline 100 mg BID for 10 days."
        facts.append("discharged on doxycycline 100 mg BID for 10 days")
    else:
        parts.append(("meds", f"Transitioned to {oral} to complete {days} days total."))
        ref2 = f"Discharged on {oral} to complete {days} days; clotrimazole for tinea pedis."
        facts.append(f"discharged on {oral} to complete {days} days")
        if len(facts) < 5:
            facts.append("clotrimazole for tinea pedis")
    parts.append(("fu", f"F/u PCP in {n} days for wound check; return if spreading "
                        "redness/fever."))
    facts.append(f"PCP follow-up in {n} days")
    ref3 = f"PCP follow-up in {n} days for a wound check."
    return _Case(parts, [ref1, ref2, ref3], facts)


def _aki(r: random.Random, p: _Patient, variant: str) -> _Case:
    base = r.randint(8, 12) / 10
    peak = r.randint(22, 34) / 10
    final = r.randint(11, 16) / 10
    n = r.choice((2, 3, 5))
    cause, cause_note = r.choice((
        ("diarrhea and poor oral intake", "diarrhea (norovirus at home), poor PO intake"),
        ("vomiting and poor oral intake", "N/V after a viral illness, minimal PO intake"),
        ("poor oral intake during a heat wave", "poor PO intake + heat, working outdoors")))
    who = _who(r, p)
    parts = [
        ("hpi", f"{who} w/ HTN, DM2 on lisinopril, HCTZ and metformin p/w {_days(r)}d of "
                f"{cause_note} and dizziness; Cr {peak} (baseline {base}), BUN "
                f"{r.randint(48, 86)}, K {r.randint(48, 56) / 10}."),
        ("course", f"UA bland, FeNa {r.randint(2, 9) / 10}% c/w prerenal."),
        ("course", f"Lisinopril, HCTZ and metformin held; IVF ({r.randint(2, 4)} L LR) w/ Cr "
                   f"improving daily to {final} at discharge."),
    ]
    sbp = r.randint(104, 128)
    _details(parts, r, [
        f"Orthostatic on arrival (SBP {sbp} -> {sbp - r.randint(20, 30)} standing).",
        "Dry mucous membranes, no edema.",
        f"Bicarb {r.randint(17, 21)}, improved w/ fluids.",
        "Urine output >1 L/day by HD2.",
        "Stool C. diff neg, diarrhea resolved by HD2." if "diarrhea" in cause else
        "Antiemetics PRN, tolerating PO by HD2."])
    ref1 = (f"{_who_ref(r, p)} with hypertension and diabetes admitted with prerenal AKI (Cr "
            f"{peak}, baseline {base}) from {cause}, treated with IV fluids; Cr {final} at "
            "discharge.")
    facts = [f"prerenal AKI (Cr {peak}, baseline {base})", "treated with IV fluids",
             f"Cr {final} at discharge"]
    if variant == "negated_finding":
        parts.insert(2, ("course", "Renal US: no hydronephrosis."))
        ref1 = ref1.replace(", treated with", " (no hydronephrosis on renal ultrasound), treated "
                                          "with")
        facts.insert(1, "no hydronephrosis on renal ultrasound")
    if variant == "changed_plan":
        parts.append(("meds", "Metformin resumed at 500 mg BID (reduced from 1000 mg BID) for "
                              f"eGFR {r.randint(34, 44)}; lisinopril and HCTZ held until PCP "
                              "visit."))
        ref2 = ("Lisinopril and hydrochlorothiazide held until PCP review; metformin resumed at "
                "a reduced 500 mg BID.")
        facts.append("metformin resumed at a reduced 500 mg BID")
    else:
        parts.append(("meds", "Metformin resumed at discharge; lisinopril and HCTZ held until "
                              "PCP visit."))
        ref2 = "Lisinopril and hydrochlorothiazide held until PCP review; metformin resumed."
    facts.append("lisinopril and hydrochlorothiazide held")
    parts.append(("fu", f"Repeat BMP in {n} days; PCP 1 wk to decide on restarting "
                        "lisinopril/HCTZ."))
    facts.append(f"repeat BMP in {n} days")
    return _Case(parts, [ref1, ref2, f"Repeat BMP in {n} days."], facts[:6],
                 avoid=("potassium",))


def _hip_fracture(r: random.Random, p: _Patient, variant: str) -> _Case:
    p = _Patient(r.randint(68, 94), p.male)
    side = r.choice(("left", "right"))
    fx, proc = r.choice((("intertrochanteric", "IM nail"),
                         ("femoral neck", "hemiarthroplasty"),
                         ("femoral neck", "total hip arthroplasty")))
    weeks = r.choice((4, 5))
    dispo = r.choice(("SNF", "acute rehab", "home with home PT"))
    who = _who(r, p)
    pmh = _pmh(r, ("HTN", "osteoporosis", "mild dementia", "CKD3", "CAD", "COPD"), (1, 2))
    s = side[0].upper()
    how = r.choice(("tripped on a rug", "slipped in bathroom", "missed a step"))
    parts = [
        ("hpi", f"{who} w/ {pmh} s/p mechanical fall at home ({how}), {s} hip pain, unable "
                f"to bear weight; XR {s} {fx} fx."),
        ("course", f"Ortho: {s} {proc} on HD{r.randint(1, 2)}, uncomplicated."),
        ("course", f"Post-op Hgb nadir {r.randint(79, 95) / 10}, no transfusion. Pain controlled "
                   "w/ scheduled APAP + oxycodone 5 mg q6h PRN."),
        ("course", "PT: WBAT, ambulating 50 ft w/ walker."),
    ]
    _details(parts, r, [
        f"On arrival HR {r.randint(78, 104)}, BP {r.randint(128, 168)}/{r.randint(62, 88)}, "
        "no LOC.",
        f"{s} leg shortened and externally rotated.",
        "Medicine co-managed; pre-op ECG NSR.",
        "Bowel regimen w/ senna/docusate.",
        "Foley removed POD1, voiding."])
    ref1 = (f"{_who_ref(r, p)} with {pmh} admitted with a {side} {fx} hip fracture after a "
            "mechanical fall, "
            f"status post {proc}.")
    facts = [f"{side} {fx} hip fracture after a mechanical fall", f"status post {proc}"]
    if variant == "negated_finding":
        parts.insert(1, ("course", "Head strike, CT head negative for bleed."))
        ref1 = ref1[:-1] + "; CT head negative for bleed."
        facts.append("CT head negative for bleed")
    ref2 = f"Weight bearing as tolerated; enoxaparin 40 mg daily for {weeks} weeks."
    parts.append(("meds", f"DVT ppx: enoxaparin 40 mg SC daily x {weeks} wks."))
    facts.append(f"enoxaparin 40 mg daily for {weeks} weeks")
    if variant == "changed_plan":
        dispo = "SNF"
        parts.append(("dispo", "Initially planned d/c home w/ daughter, but PT recommended SNF "
                               "given poor progress; d/c to SNF."))
        ref3 = "Discharged to SNF on PT recommendation; ortho follow-up in 2 weeks."
        facts.append("discharged to SNF on PT recommendation")
    else:
        parts.append(("dispo", f"D/c to {dispo}."))
        ref3 = f"Discharged to {dispo}; ortho follow-up in 2 weeks for staple removal."
        facts.append(f"discharged to {dispo}")
    parts.append(("fu", "F/u ortho 2 wks for staple removal; vit D level pending, outpatient "
                        "DEXA."))
    if len(facts) < 6:
        facts.append("ortho follow-up in 2 weeks")
    if len(facts) < 6:
        facts.append("weight bearing as tolerated")
    return _Case(parts, [ref1, ref2, ref3], facts, avoid=("anemia",))


def _pyelo(r: random.Random, p: _Patient, variant: str) -> _Case:
    side = r.choice(("left", "right"))
    oral, days = r.choice((("ciprofloxacin 500 mg BID", 7), ("cefpodoxime 200 mg BID", 10),
                           ("TMP-SMX DS 1 tab BID", 14)))
    who = _who(r, p)
    pmh = _pmh(r, ("DM2", "recurrent UTIs", "nephrolithiasis", "HTN", "BPH"), (1, 2))
    parts = [
        ("hpi", f"{who} w/ {pmh} p/w {_days(r, 2, 4)}d of dysuria, {side[0].upper()} flank "
                f"pain, fevers to {r.randint(1018, 1036) / 10} and N/V."),
        ("course", f"UA: +LE, +nitrite, >50 WBC. Lactate {r.randint(14, 29) / 10}. Started IV "
                   "ceftriaxone, afebrile after 48 hrs."),
        ("course", "Urine cx: E. coli >100K."),
        ("course", "Blood cx x2 NGTD."),
    ]
    _details(parts, r, [
        f"On arrival T {r.randint(1012, 1036) / 10}, HR {r.randint(98, 124)}, BP "
        f"{r.randint(98, 132)}/{r.randint(58, 80)}, {side[0].upper()} CVA tenderness.",
        f"WBC {r.randint(128, 214) / 10}, Cr {r.randint(8, 12) / 10} (baseline).",
        "Received 2 L LR.",
        "Ondansetron PRN for nausea, tolerating PO by HD2."])
    ref1 = (f"{_who_ref(r, p)} with {pmh} admitted with {side}-sided pyelonephritis, E. coli "
            "on urine culture, treated with IV ceftriaxone.")
    facts = [f"{side}-sided pyelonephritis", "E. coli on urine culture",
             "treated with IV ceftriaxone"]
    if variant == "negated_finding":
        parts.insert(2, ("course", "Renal US: no hydronephrosis or abscess."))
        ref1 = ref1[:-1] + "; no hydronephrosis on renal ultrasound."
        facts.append("no hydronephrosis on renal ultrasound")
    if variant == "changed_plan":
        oral, days = "cefpodoxime 200 mg BID", 10
        parts.append(("meds", "Discharge planned on cipro, but final sensitivities showed "
                              "cipro resistance -> switched to cefpodoxime 200 mg BID to "
                              "complete 10 days."))
        ref2 = ("Switched to cefpodoxime 200 mg BID for ciprofloxacin-resistant E. coli to "
                "complete 10 days.")
        facts.append("cefpodoxime 200 mg BID for ciprofloxacin-resistant E. coli")
    else:
        parts.append(("meds", f"Urine cx pan-sensitive; transitioned to {oral} to complete "
                              f"{days} days total."))
        ref2 = f"Discharged on {oral} to complete {days} days."
        facts.append(f"discharged on {oral} to complete {days} days")
    fu = r.choice(("1 week", "10 days"))
    parts.append(("fu", f"F/u PCP in {fu}; return for fever >101 or unable to tolerate PO."))
    facts.append(f"PCP follow-up in {fu}")
    ref3 = f"Blood cultures negative; PCP follow-up in {fu}."
    return _Case(parts, [ref1, ref2, ref3], facts)


def _tia(r: random.Random, p: _Patient, variant: str) -> _Case:
    side = r.choice(("left", "right"))
    opp = "right" if side == "left" else "left"
    sten = r.choice((70, 75, 80, 90))
    who = _who(r, p)
    minutes = r.choice((15, 20, 30, 40, 45))
    parts = [
        ("hpi", f"{who} w/ HTN, HLD, {_c(r, 'active smoker', 'former smoker', 'DM2')} p/w "
                f"{minutes} min episode of {side[0].upper()} arm weakness and slurred speech, "
                "resolved by ED arrival; NIHSS 0."),
        ("course", "CT head neg. MRI brain: no acute infarct."),
        ("course", f"CTA head/neck: {opp[0].upper()} ICA {sten}% stenosis. LDL "
                   f"{r.randint(118, 176)}, A1c {r.randint(55, 68) / 10}%."),
        ("course", f"Vascular surgery consulted, {opp[0].upper()} CEA planned as outpatient "
                   "within 2 wks."),
    ]
    _details(parts, r, [
        f"On arrival BP {r.randint(158, 196)}/{r.randint(84, 104)}, glucose "
        f"{r.randint(96, 168)}.",
        "Exam nonfocal on arrival.",
        "Permissive HTN x24h, then home amlodipine resumed.",
        "Passed bedside swallow screen.",
        "PT/OT: no needs."])
    ref1 = (f"{_who_ref(r, p)} admitted with TIA ({side} arm weakness and dysarthria); MRI "
            "showed no acute infarct.")
    facts = [f"TIA ({side} arm weakness and dysarthria)", "MRI showed no acute infarct",
             f"{opp} ICA {sten}% stenosis", f"{opp} CEA planned"]
    if variant == "negated_finding":
        parts.insert(3, ("course", "Tele x48h: NSR, no AF."))
        ref1 = ref1[:-1] + " and telemetry showed no AF."
        facts.append("telemetry showed no AF")
    ref2 = f"CTA showed {opp} ICA {sten}% stenosis; {opp} CEA planned."
    if variant == "changed_plan":
        statin = "home pravastatin 20 mg switched to atorvastatin 80 mg"
        parts.append(("meds", "Started aspirin 81 mg + clopidogrel 75 mg daily x21 days, then "
                              "aspirin alone; home pravastatin 20 mg switched to atorvastatin "
                              "80 mg qHS."))
        ref3 = ("Started aspirin 81 mg plus clopidogrel 75 mg for 21 days; "
                f"{statin}.")
        facts.append(statin)
    else:
        parts.append(("meds", "Started aspirin 81 mg + clopidogrel 75 mg daily x21 days, then "
                              "aspirin alone; atorvastatin 80 mg qHS."))
        ref3 = "Started aspirin 81 mg plus clopidogrel 75 mg for 21 days and atorvastatin 80 mg."
        facts.append("aspirin 81 mg plus clopidogrel 75 mg for 21 days")
    parts.append(("fu", "F/u neurology 4 wks; 30-day event monitor to be mailed."))
    return _Case(parts, [ref1, ref2, ref3], facts[:6], avoid=("atorvastatin",))


# --- patient messages ------------------------------------------------------------------------

_PHARMACIES = ("the CVS on Main St", "Walgreens on 5th", "the Costco pharmacy",
               "the Walmart on Route 9", "Rite Aid")
_OPEN = ("Hi Dr. {doc},", "Hello,", "Hi,", "Good morning,", "Dear Dr. {doc},", "")
_CLOSE = ("Thank you!", "Thanks so much.", "Thanks, {name}", "- {name}", "Appreciate it.",
          "Please let me know.")
_DOCS = ("Patel", "Nguyen", "Okafor", "Schmidt", "Rivera", "Kim")
_NAMES = ("Maria", "Linda", "James", "Robert", "Keisha", "Tom", "Priya", "Greg", "Dolores", "Raj")


def _frame(r: random.Random, body: list[str]) -> list[tuple[str, str]]:
    opener = r.choice(_OPEN).format(doc=r.choice(_DOCS))
    closer = r.choice(_CLOSE).format(name=r.choice(_NAMES))
    return ([("open", opener)] if opener else []) + [("body", b) for b in body] + [
        ("close", closer)]


def _msg_hf(r: random.Random, p: _Patient, variant: str) -> _Case:
    days = r.randint(2, 6)
    w1 = r.randint(168, 232)
    w2 = w1 + r.randint(3, 6)
    dose = r.choice(("40 mg BID", "40 mg daily", "20 mg BID"))
    pharmacy = r.choice(_PHARMACIES)
    body = [
        f"I got home from the hospital {days} days ago (heart failure).",
        f"My weight was {w1} lb when I left and this morning it's {w2}, same scale.",
        _c(r, "My ankles are puffy again and I needed 2 pillows last night to breathe ok.",
           "Ankles are swollen again and I had to sleep propped up on pillows last night."),
    ]
    _details(body, r, [
        "I've been following the low salt diet pretty well.",
        "I weigh myself every morning after the bathroom like the nurse showed me.",
        "My daughter set up my pill box so I don't mix them up.",
        "Walking to the mailbox makes me winded.",
        "I don't think I've been eating anything salty."], (2, 3), at=len(body))
    dose_words = dose.replace("BID", "twice a day").replace("daily", "once a day")
    ref1 = f"Pt discharged {days} days ago after a heart failure admission reports weight gain "
    ref1 += f"from {w1} to {w2} lb with worse ankle swelling and orthopnea"
    facts = [f"weight gain from {w1} to {w2} lb", "worse ankle swelling and orthopnea"]
    if variant == "changed_plan":
        body.append("They told me furosemide 40 twice a day at discharge but the pharmacy label "
                    "says once a day, so that's what I've been taking.")
        ref1 += ", taking furosemide 40 mg daily instead of the prescribed 40 mg BID."
        facts.append("taking furosemide 40 mg daily instead of the prescribed 40 mg BID")
    else:
        body.append(f"I'm taking the furosemide {dose_words} like they said, haven't missed "
                    "any.")
        ref1 += f" on furosemide {dose}."
        facts.append(f"on furosemide {dose}")
    ref = [ref1]
    if variant == "negated_finding":
        body.append(_c(r, "No chest pain and I'm not short of breath sitting down.",
                       "No chest pain, no trouble breathing at rest."))
        ref.append("Denies chest pain or dyspnea at rest.")
        facts.append("denies chest pain or dyspnea at rest")
    body += [_c(r, "Should I take an extra water pill today?",
                "Do I take an extra dose of the water pill?"),
             f"Also almost out of my metoprolol, can you send a refill to {pharmacy}?"]
    ref.append("Asks whether to take an extra diuretic dose and requests a metoprolol refill.")
    facts += ["asks whether to take an extra diuretic dose", "requests a metoprolol refill"]
    return _Case(_frame(r, body), ref, facts, message=True)


def _msg_glucose(r: random.Random, p: _Patient, variant: str) -> _Case:
    lo = r.randint(19, 25) * 10
    hi = lo + r.randint(3, 8) * 10
    glargine = r.randint(16, 34)
    sema, weeks = r.choice(("0.25", "0.5")), r.randint(2, 5)
    body = [f"My fasting sugars have been running {lo}-{hi} all week."]
    if variant == "changed_plan":
        body.append(f"Dr. {r.choice(_DOCS)} raised my Lantus from {glargine - 4} to {glargine} "
                    "units at bedtime last week and I haven't missed any.")
        ref1 = (f"Pt reports fasting glucose {lo}-{hi} all week on glargine "
                f"increased to {glargine} units nightly last week, with no hypoglycemia.")
        facts = [f"fasting glucose {lo}-{hi}", f"glargine increased to {glargine} units nightly"]
    else:
        body.append(f"I take Lantus {glargine} units at bedtime and haven't missed any.")
        ref1 = (f"Pt reports fasting glucose {lo}-{hi} all week on glargine "
                f"{glargine} units nightly, with no hypoglycemia.")
        facts = [f"fasting glucose {lo}-{hi}", f"glargine {glargine} units nightly"]
    _details(body, r, [
        "I check every morning before breakfast.",
        "I've been trying to cut back on soda.",
        "I walk about 20 minutes most days.",
        "My feet have been fine, I check them every night.",
        "Work has been stressful lately."], (2, 3), at=len(body))
    body.append(_c(r, "No lows.", "No low sugars at all.", "Haven't had any lows."))
    facts.append("no hypoglycemia")
    body.append(f"I started the Ozempic {sema} mg {weeks} weeks ago and it makes me a little "
                "queasy but I'm eating ok.")
    ref2 = f"Started semaglutide {sema} mg {weeks} weeks ago with mild nausea but eating normally"
    facts.append(f"started semaglutide {sema} mg {weeks} weeks ago")
    if variant == "negated_finding":
        body.append("No throwing up and no belly pain.")
        ref2 += ", no vomiting or abdominal pain"
        facts.append("no vomiting or abdominal pain")
    body += [_c(r, "Should I go up on the Lantus?", "Do I need more Lantus?"),
             f"Also running low on test strips (OneTouch Verio), please send to "
             f"{r.choice(_PHARMACIES)}."]
    ref = [ref1, ref2 + ".", "Asks whether to increase glargine and requests test strips."]
    facts.append("asks whether to increase glargine")
    if len(facts) < 6:
        facts.append("requests test strips")
    return _Case(_frame(r, body), ref, facts, message=True)


def _msg_postop(r: random.Random, p: _Patient, variant: str) -> _Case:
    surgery, site, plain = r.choice((("cholecystectomy", "umbilical", "gallbladder out"),
                                     ("appendectomy", "umbilical", "appendix out"),
                                     ("inguinal hernia repair", "groin", "hernia repaired")))
    n = r.randint(4, 9)
    temp = r.randint(1002, 1014) / 10
    where = "at my belly button" if site == "umbilical" else "in my groin"
    body = [f"I had my {plain} {n} days ago.",
            f"Since yesterday the incision {where} is red and warm and there's yellowish "
            "drainage on the bandage.",
            f"Temp last night was {temp}."]
    ref1 = (f"Pt {n} days after {surgery} reports redness, warmth and yellow drainage at the "
            f"{site} incision since yesterday with a temperature of {temp}.")
    facts = [f"{n} days after {surgery}",
             f"redness, warmth and yellow drainage at the {site} incision",
             f"temperature of {temp}"]
    ref2 = "Pain controlled with acetaminophen"
    _details(body, r, [
        "The surgery itself went fine and I went home the same day.",
        "I've been changing the bandage once a day like they showed me.",
        "I've been walking around the house ok.",
        f"I have my post-op visit with the surgeon on the {r.randint(12, 28)}th.",
        "My wife says it looks worse than yesterday."], (2, 3), at=len(body))
    body.append("Pain is ok with Tylenol, I stopped the oxycodone on day 2.")
    facts.append("pain controlled with acetaminophen")
    if variant == "negated_finding":
        body.append("I'm eating fine, no vomiting.")
        ref2 += "; no vomiting"
        facts.append("no vomiting")
    if variant == "changed_plan":
        body.append("The surgeon's office called in Keflex yesterday after I called the "
                    "nurse line, I've taken 2 doses so far.")
        ref2 += "; cephalexin started yesterday by the surgeon's office"
        facts.append("cephalexin started yesterday by the surgeon's office")
    body.append(_c(r, "Is this infected?", "Does this look like an infection?",
                   "Should I be worried?"))
    body.append("Also my work wants a note for when I can go back, I do warehouse lifting.")
    ref = [ref1, ref2 + ".", "Asks whether it is infected and requests a work note for return "
           "to a lifting job."]
    facts.append("requests a work note")
    return _Case(_frame(r, body), ref, facts[:6], message=True)


def _msg_inr(r: random.Random, p: _Patient, variant: str) -> _Case:
    dose = r.choice(("5", "7.5", "2.5"))
    indication = r.choice(("afib", "a mechanical valve", "a DVT"))
    inr = r.randint(38, 52) / 10
    minutes = r.choice((15, 20, 30))
    day = r.choice(("Thursday", "Monday", "Friday"))
    body = [f"I'm on warfarin {dose} mg a day for {indication}.",
            f"My INR at the clinic yesterday was {inr}."]
    _details(body, r, [
        "I eat about the same amount of salad as always.",
        "I haven't missed or doubled any doses.",
        "I get my INR checked at the clinic every 2 weeks.",
        "I live alone but my son checks on me."], (2, 3), at=len(body))
    ref1 = f"Pt on warfarin {dose} mg daily for {indication} reports INR {inr} yesterday"
    facts = [f"warfarin {dose} mg daily for {indication}", f"INR {inr}"]
    if variant == "changed_plan":
        lower = {"5": "4", "7.5": "6", "2.5": "2"}[dose]
        body.append("The anticoag nurse first said keep the same dose, then called back and "
                    f"said skip tonight and then take {lower} mg a day until the recheck.")
        ref1 += (f"; anticoagulation clinic advised skipping tonight's dose, then {lower} mg "
                 "daily.")
        facts.append(f"skip tonight's dose, then {lower} mg daily")
    else:
        body.append(f"I had a nosebleed Sunday that lasted about {minutes} minutes, it stopped "
                    "when I pinched my nose.")
        ref1 += f" and a {minutes}-minute nosebleed on Sunday controlled with pressure."
        facts.append(f"{minutes}-minute nosebleed controlled with pressure")
    ref = [ref1]
    if variant == "negated_finding":
        body.append("No blood in my urine or stool that I can see.")
        ref.append("No blood in urine or stool.")
        facts.append("no blood in urine or stool")
    body += ["The dentist started me on amoxicillin on Friday for a bad tooth.",
             f"I'm supposed to get it pulled next {day}, do I need to stop the warfarin "
             "before?"]
    ref.append(f"Started amoxicillin from the dentist on Friday; asks whether to hold warfarin "
               f"before a tooth extraction next {day}.")
    facts += ["started amoxicillin from the dentist", "asks whether to hold warfarin before a "
              "tooth extraction"]
    return _Case(_frame(r, body), ref, facts[:6], message=True)


# Scenario name -> builder; messages are the ``msg_`` ones.
SCENARIOS: dict[str, Callable[[random.Random, _Patient, str], _Case]] = {
    "heart_failure": _chf, "pneumonia": _pneumonia, "copd": _copd, "afib": _afib, "dka": _dka,
    "gi_bleed": _gi_bleed, "cellulitis": _cellulitis, "aki": _aki, "hip_fracture": _hip_fracture,
    "pyelonephritis": _pyelo, "tia": _tia,
    "msg_heart_failure": _msg_hf, "msg_glucose": _msg_glucose, "msg_postop": _msg_postop,
    "msg_warfarin": _msg_inr,
}
NOTE_SCENARIOS = tuple(s for s in SCENARIOS if not s.startswith("msg_"))
MESSAGE_SCENARIOS = tuple(s for s in SCENARIOS if s.startswith("msg_"))

# Irrelevant details (tag, text): never part of a reference.
NOTE_DISTRACTORS = (
    ("anemia", "Chronic normocytic anemia, Hgb {hgb} (at baseline)."),
    ("", "Incidental {mm} mm RUL nodule on prior CT ({year}), stable, no further f/u needed."),
    ("potassium", "Mild hypokalemia (K 3.{k}) repleted."),
    ("atorvastatin", "Home atorvastatin 40 mg and levothyroxine {lt} mcg continued unchanged."),
    ("", "Seen by nutrition; tolerating regular diet."),
    ("", "Remote h/o appendectomy ({year})."),
    ("", "Flu vaccine given prior to discharge."),
    ("", "Slept poorly night 1 d/t roommate; melatonin 3 mg PRN."),
    ("", "Son at bedside, updated on plan."),
    ("", "Code status: full code, confirmed w/ pt."),
    ("", "Chronic low back pain, stable on home regimen."),
    ("", "Vit B12 {b12}, nl."),
    ("", "SW arranged transportation home."),
)
MESSAGE_DISTRACTORS = (
    "My grandson is staying with us this week.",
    "The weather has been awful so I haven't been walking.",
    "My neighbor had something similar and ended up in the ER, but he's 90.",
    "I also have my eye appointment on the {day}th, not sure if that matters.",
    "Sorry, my daughter usually writes these for me.",
    "My sister had her knee replaced last month and is doing great.",
)
_SECTION_LABELS = {
    "course": ("Hospital course:", "HOSPITAL COURSE:", "Brief hospital course:", "Course:"),
    "meds": ("Med changes:", "Discharge med changes:", "Meds:", "Medications:"),
    "dispo": ("Dispo:", "Disposition:"),
    "fu": ("F/u:", "Follow-up:", "FOLLOW UP:"),
    "pending": ("Pending:", "Pending at d/c:", "Outstanding results:"),
}
_NOTE_ABBREVIATIONS = ((r"\bdischarge\b", "d/c"), (r"\bwith\b", "w/"), (r"\bweeks\b", "wks"),
                       (r"\bhours\b", "hrs"), (r"\bfollow-up\b", "f/u"),
                       (r"\bpatient\b", "pt"), (r"\bbilateral\b", "bilat"),
                       (r"\bwithout\b", "w/o"))


def _fill(template: str, r: random.Random) -> str:
    return fill(template, r, {
        "hgb": r.randint(98, 114) / 10, "mm": r.randint(3, 6), "year": r.randint(1995, 2021),
        "k": r.randint(1, 4), "lt": r.choice((50, 75, 88)), "b12": r.randint(320, 780),
        "day": r.randint(11, 28)})


def _with_distractors(case: _Case, r: random.Random, n: int) -> list[tuple[str, str]]:
    parts = list(case.parts)
    if case.message:
        pool = list(MESSAGE_DISTRACTORS)
    else:
        pool = [text for tag, text in NOTE_DISTRACTORS if tag not in case.avoid]
    for text in r.sample(pool, n):
        if case.message:  # anywhere in the body
            body = [i for i, (section, _) in enumerate(parts) if section == "body"]
            parts.insert(r.randint(body[0], body[-1] + 1), ("body", _fill(text, r)))
        else:  # in the second half of the course, never in the plan
            end = _course_end(parts)
            parts.insert(r.randint(max(2, end // 2), end), ("course", _fill(text, r)))
    return parts


def _layout(parts: list[tuple[str, str]], r: random.Random, message: bool) -> str:
    if message:
        sep = r.choice((" ", " ", "\n"))
        body = " ".join(t for s, t in parts if s == "body")
        return sep.join(t for t in ([p[1] for p in parts if p[0] == "open"] + [body]
                                    + [p[1] for p in parts if p[0] == "close"]) if t)
    if r.random() < 0.5:  # one paragraph
        header = r.choice(("", "Brief hospital course: ", "HOSPITAL COURSE: ",
                           "Hospital course: "))
        text = header + " ".join(t for _, t in parts)
    else:  # sections
        lines = []
        for section in ("course", "meds", "dispo", "fu", "pending"):
            members = ("hpi", "course") if section == "course" else (section,)
            sentences = [t for s, t in parts if s in members]
            if sentences:
                lines.append(f"{r.choice(_SECTION_LABELS[section])} {' '.join(sentences)}")
        text = "\n".join(lines)
    return abbreviate(text, r, _NOTE_ABBREVIATIONS, 0.5)


def _typos(text: str, rate: float, r: random.Random) -> str:
    """Swap or drop a letter in a share ``rate`` of lower-case words of 5+ letters (not drug
    names): clinicians misspell words, rarely the drug or a number."""
    return add_typos(text, rate, r, words=r"(?<![\w/-])[a-z]{5,}(?![\w/-])",
                     keep=DRUGS.__contains__, runs=None, spare=2)


def _casual(text: str, r: random.Random) -> str:
    """Patient-message register: some write without capitals or with 'u', 'pls'."""
    if r.random() < 0.2:
        text = text.lower()
    if r.random() < 0.3:
        text = re.sub(r"\bplease\b", "pls", text)
        text = re.sub(r"\byou\b", "u", text)
    return text


def generate_notes(n_items: int, seed: int, hard_share: float = 0.3, noise: float = 0.02,
                   message_share: float = 0.25) -> list[dict]:
    """``n_items`` distinct notes with a reference summary and its key facts.

    A share ``message_share`` are patient-portal messages (``MESSAGE_SCENARIOS``), the rest
    brief hospital courses (``NOTE_SCENARIOS``); scenarios are balanced within each (counts
    differ by at most one). A share ``hard_share`` are hard cases, their variants balanced:
    ``negated_finding`` (a negative result the summary must keep negative: "CTA negative for
    PE"), ``changed_plan`` (a plan or dose changed mid-course; only the final one is a key
    fact, the note gives the first plan too, often with its dose) and ``distractor`` (two or
    three irrelevant details, some with numbers). Any item may carry one irrelevant detail.
    ``noise`` is the share of longer lower-case words given a typo (never a drug name or a
    number). Shares are exact up to rounding. Items: ``id``, ``text``, ``reference``,
    ``key_facts`` (4-6), ``scenario``, ``hard`` (bool), ``variant`` ("" when not hard).
    """
    check_settings(n_items, hard_share=hard_share, noise=noise, message_share=message_share)
    rng = random.Random(seed)
    n_messages = round(n_items * message_share)
    scenarios = (cycled(MESSAGE_SCENARIOS, n_messages)
                 + cycled(NOTE_SCENARIOS, n_items - n_messages))
    rng.shuffle(scenarios)
    n_hard = round(n_items * hard_share)
    variants = cycled(HARD_VARIANTS, n_hard) + [""] * (n_items - n_hard)
    rng.shuffle(variants)

    items, texts = [], DistinctTexts(seed, 0.0, "note")  # _item writes the typos
    for i in range(n_items):
        item, _ = texts.write(i, _item, scenarios[i], variants[i], noise,
                              text_of=itemgetter("text"), own_rng=True)
        items.append({"id": f"note-{i:05d}", **item})
    return items


def _item(r: random.Random, scenario: str, variant: str, noise: float) -> dict:
    patient = _Patient(r.randint(42, 91), r.random() < 0.5)
    case = SCENARIOS[scenario](r, patient, variant)
    n_distractors = (r.randint(2, 3) if variant == "distractor"
                     else int(r.random() < 0.3))
    parts = _with_distractors(case, r, n_distractors)
    text = _layout(parts, r, case.message)
    if case.message:
        text = _casual(text, r)
    # typos from their own generator: the same seed gives the same notes at every noise level
    text = _typos(text, noise, random.Random(f"typos:{text}"))
    return {"text": text, "reference": " ".join(case.ref), "key_facts": list(case.facts),
            "scenario": scenario, "hard": bool(variant), "variant": variant}
