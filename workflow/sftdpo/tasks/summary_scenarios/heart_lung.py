"""Hospital courses of the heart and lungs, and a TIA: heart failure, pneumonia, COPD,
atrial fibrillation, TIA."""

from __future__ import annotations

import random

from sftdpo.tasks.summary_scenarios.case import (
    _c,
    _Case,
    _days,
    _details,
    _Patient,
    _pmh,
    _who,
    _who_ref,
)
from sftdpo.tasks.toolkit import cap


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
