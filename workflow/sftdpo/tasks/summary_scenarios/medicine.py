"""Hospital courses of general medicine and surgery: DKA, GI bleed, cellulitis, AKI, hip
fracture, pyelonephritis."""

from __future__ import annotations

import random

from sftdpo.tasks.summary_scenarios.case import (
    _Case,
    _days,
    _details,
    _Patient,
    _pmh,
    _who,
    _who_ref,
)


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
