"""Synthetic clinical case vignettes with one best answer: the diagnosis or the next step.

Every vignette is written from one condition of ``CONDITIONS`` (55 acute presentations across
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

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter

from sftdpo.tasks.choice import FREE_RESPONSE, MULTIPLE_CHOICE, ChoiceTask
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

# Next steps: canonical text -> accepted synonyms. Every step and wrong step a condition names
# is here (a test checks), so a free answer in other words still matches.
STEPS: dict[str, tuple[str, ...]] = {
    "Emergent cardiac catheterization": (
        "primary PCI", "percutaneous coronary intervention", "PCI", "cardiac catheterization",
        "coronary angiography", "emergent coronary angiography", "cardiac cath", "cath lab",
        "emergent PCI", "primary percutaneous coronary intervention", "heart catheterization"),
    "CT angiography of the aorta": (
        "CTA aorta", "CTA of the aorta", "CT aortogram", "CT angiogram of the aorta",
        "CT aortography", "CT angiography of the thoracic aorta"),
    "NSAIDs and colchicine": (
        "NSAID and colchicine", "an NSAID and colchicine", "ibuprofen and colchicine",
        "colchicine and ibuprofen", "colchicine and NSAIDs", "colchicine and an NSAID",
        "aspirin and colchicine", "high-dose aspirin and colchicine", "naproxen and colchicine",
        "indomethacin and colchicine"),
    "Pericardiocentesis": ("emergent pericardiocentesis", "pericardial drainage",
                           "needle pericardiocentesis", "drainage of the pericardial effusion"),
    "IV loop diuretic": ("IV furosemide", "intravenous furosemide", "furosemide",
                         "loop diuretic", "IV diuresis", "IV bumetanide", "Lasix", "IV Lasix",
                         "diuresis", "intravenous loop diuretic"),
    "CT pulmonary angiography": ("CTPA", "CT pulmonary angiogram", "CT-PA",
                                 "CT angiography of the pulmonary arteries", "CT PE protocol",
                                 "PE protocol CT"),
    "Needle decompression": ("needle thoracostomy", "needle decompression of the chest",
                             "immediate needle decompression", "finger thoracostomy"),
    "Ceftriaxone plus azithromycin": (
        "IV ceftriaxone and azithromycin", "azithromycin and ceftriaxone",
        "beta-lactam and macrolide", "levofloxacin", "moxifloxacin",
        "respiratory fluoroquinolone"),
    "Noninvasive positive pressure ventilation": (
        "NIPPV", "BiPAP", "NIV", "noninvasive ventilation", "non-invasive ventilation",
        "bilevel positive airway pressure", "BPAP", "noninvasive positive-pressure ventilation",
        "non-invasive positive pressure ventilation", "bilevel PAP"),
    "Inhaled albuterol": ("albuterol", "nebulized albuterol", "salbutamol", "SABA",
                          "short-acting beta agonist", "short-acting beta-2 agonist",
                          "albuterol nebulizer", "albuterol and ipratropium", "DuoNeb",
                          "inhaled short-acting beta agonist", "inhaled beta agonist"),
    "Appendectomy": ("laparoscopic appendectomy", "appendicectomy", "open appendectomy",
                     "surgical removal of the appendix", "lap appy"),
    "Right upper quadrant ultrasound": (
        "RUQ ultrasound", "RUQ US", "abdominal ultrasound", "ultrasound of the gallbladder",
        "gallbladder ultrasound", "ultrasound of the abdomen", "right upper quadrant US",
        "hepatobiliary ultrasound"),
    "ERCP": ("endoscopic retrograde cholangiopancreatography", "ERCP with sphincterotomy",
             "biliary drainage", "biliary decompression", "endoscopic biliary drainage",
             "ERCP with stone extraction", "urgent ERCP"),
    "IV fluid resuscitation": (
        "IV fluids", "intravenous fluids", "fluid resuscitation", "aggressive IV fluids",
        "lactated Ringer", "Ringer lactate", "IV crystalloids", "IV hydration",
        "isotonic saline", "0.9% saline", "normal saline", "IV normal saline",
        "intravenous fluid resuscitation", "IV fluid"),
    "Emergency laparotomy": (
        "exploratory laparotomy", "emergent surgery", "emergency surgery", "surgical repair",
        "laparoscopic repair", "Graham patch", "omental patch repair", "surgical exploration",
        "urgent surgery", "emergent laparotomy", "emergent surgical repair"),
    "Upper endoscopy": ("EGD", "esophagogastroduodenoscopy", "upper GI endoscopy",
                        "endoscopy", "urgent endoscopy", "urgent upper endoscopy"),
    "CT angiography of the abdomen": (
        "CTA abdomen", "CTA of the abdomen", "CT angiogram of the abdomen",
        "CT mesenteric angiography", "CT angiography of the abdomen and pelvis",
        "CTA of the abdomen and pelvis", "abdominal CTA", "mesenteric angiography",
        "CT angiogram of the abdomen and pelvis"),
    "IV alteplase": ("alteplase", "tPA", "IV tPA", "rtPA", "tenecteplase", "thrombolysis",
                     "IV thrombolysis", "thrombolytic therapy", "thrombolytics",
                     "tissue plasminogen activator", "intravenous thrombolysis"),
    "Noncontrast CT of the head": (
        "noncontrast head CT", "non-contrast CT head", "non-contrast head CT",
        "CT head without contrast", "CT of the head without contrast", "noncontrast CT head",
        "CT head", "head CT", "CT of the head", "CT brain", "CT scan of the head",
        "non-contrast CT of the head", "unenhanced CT of the head"),
    "Empiric IV antibiotics": (
        "IV antibiotics", "empiric antibiotics", "ceftriaxone and vancomycin",
        "vancomycin and ceftriaxone", "broad-spectrum antibiotics",
        "dexamethasone and antibiotics", "dexamethasone and empiric antibiotics",
        "intravenous antibiotics", "empirical antibiotics", "vancomycin ceftriaxone"),
    "IVIG": ("intravenous immunoglobulin", "IV immunoglobulin", "IV immune globulin",
             "plasmapheresis", "plasma exchange", "intravenous immune globulin"),
    "Oral cephalexin": ("cephalexin", "Keflex", "cefadroxil", "dicloxacillin",
                        "penicillin VK", "oral penicillin", "oral antibiotics",
                        "oral beta-lactam"),
    "Emergent surgical debridement": (
        "surgical debridement", "debridement", "surgical exploration and debridement",
        "operative debridement", "urgent surgical debridement", "emergent debridement",
        "fasciotomy and debridement"),
    "Compression ultrasound": (
        "venous duplex ultrasound", "duplex ultrasound", "duplex ultrasound of the leg",
        "Doppler ultrasound of the leg", "lower extremity Doppler", "venous Doppler",
        "compression ultrasonography", "lower extremity venous ultrasound",
        "venous ultrasound", "leg ultrasound"),
    "Propranolol": ("IV propranolol", "oral propranolol", "beta-blocker", "beta blocker",
                    "esmolol", "beta-blockade"),
    "IV hydrocortisone": ("hydrocortisone", "stress-dose hydrocortisone",
                          "stress-dose steroids", "stress dose steroids", "IV glucocorticoids",
                          "IV corticosteroids", "Solu-Cortef"),
    "Tamsulosin": ("medical expulsive therapy", "alpha blocker", "alpha-blocker", "Flomax",
                   "oral tamsulosin", "alpha-1 blocker"),
    "IV ceftriaxone": ("ceftriaxone", "IV antibiotics", "parenteral antibiotics",
                       "admission for IV antibiotics", "IV cefepime", "IV ciprofloxacin",
                       "IV levofloxacin", "intravenous ceftriaxone", "Rocephin"),
    "IV calcium gluconate": ("calcium gluconate", "IV calcium", "calcium chloride",
                             "IV calcium chloride", "intravenous calcium"),
    "Emergent surgical exploration": (
        "surgical exploration", "scrotal exploration", "emergent scrotal exploration",
        "orchiopexy", "detorsion and orchiopexy", "surgical detorsion", "emergency surgery",
        "surgical detorsion and orchiopexy", "urgent scrotal exploration"),
    "Transvaginal ultrasound": ("TVUS", "transvaginal US", "pelvic ultrasound",
                                "transvaginal sonography", "endovaginal ultrasound"),
    "Pelvic ultrasound with Doppler": (
        "transvaginal ultrasound with Doppler", "Doppler ultrasound of the ovaries",
        "pelvic Doppler ultrasound", "pelvic ultrasound", "transvaginal ultrasound",
        "Doppler ultrasound", "transvaginal Doppler ultrasound"),
    "Ceftriaxone, doxycycline and metronidazole": (
        "ceftriaxone doxycycline and metronidazole", "ceftriaxone doxycycline metronidazole",
        "IM ceftriaxone and oral doxycycline and metronidazole",
        "ceftriaxone and doxycycline and metronidazole", "ceftriaxone and doxycycline",
        "IM ceftriaxone and oral doxycycline", "ceftriaxone plus doxycycline"),
    "IV magnesium sulfate": ("magnesium sulfate", "magnesium", "MgSO4", "IV magnesium",
                             "Mg sulfate", "magnesium sulphate"),
    "Oral dexamethasone": ("dexamethasone", "single-dose dexamethasone",
                           "single dose of oral dexamethasone", "oral corticosteroid",
                           "systemic corticosteroids", "corticosteroids", "IM dexamethasone",
                           "oral steroids"),
    "Intubation in the operating room": (
        "secure the airway in the operating room", "intubation in the OR",
        "endotracheal intubation in the operating room", "secure the airway",
        "airway secured in the operating room", "controlled intubation", "definitive airway",
        "securing the airway", "intubation", "airway management in the operating room"),
    "Supportive care": ("supportive care with nasal suctioning", "supportive treatment",
                        "supportive management", "nasal suctioning", "nasal suction",
                        "observation and supportive care", "supportive therapy"),
    "Rigid bronchoscopy": ("bronchoscopy", "rigid bronchoscopic removal",
                           "bronchoscopic removal", "rigid bronchoscopy with removal",
                           "bronchoscopic extraction"),
    "Air enema": ("air contrast enema", "pneumatic enema", "air enema reduction",
                  "contrast enema", "hydrostatic enema", "pneumatic reduction",
                  "therapeutic enema", "enema reduction", "hydrostatic reduction"),
    "Oral rehydration therapy": ("oral rehydration", "oral rehydration solution", "ORS",
                                 "oral fluids", "ondansetron and oral rehydration",
                                 "ORT", "oral hydration"),
    "N-acetylcysteine": ("NAC", "acetylcysteine", "IV N-acetylcysteine", "IV acetylcysteine",
                         "oral N-acetylcysteine", "Mucomyst", "Acetadote"),
    "IV naloxone": ("naloxone", "Narcan", "intranasal naloxone", "IM naloxone"),
    "Atropine and pralidoxime": ("atropine", "IV atropine", "pralidoxime and atropine",
                                 "atropine and 2-PAM", "atropine and oximes"),
    "IV sodium bicarbonate": ("sodium bicarbonate", "bicarbonate", "IV bicarbonate",
                              "urinary alkalinization", "alkalinization of the urine",
                              "sodium bicarbonate infusion", "urine alkalinization"),
    "100% oxygen by non-rebreather mask": (
        "100% oxygen", "100% O2", "high-flow oxygen", "high flow oxygen", "non-rebreather mask",
        "nonrebreather mask", "normobaric oxygen", "100 percent oxygen", "high-flow O2"),
    "IV dextrose": ("dextrose", "IV 50% dextrose", "D50", "D50W", "IV glucose",
                    "intravenous dextrose", "dextrose 50%", "50% dextrose", "D10"),
    # Wrong steps only (distractors), with the synonyms a model may use for them.
    "Exercise stress test": ("stress test", "treadmill stress test", "exercise ECG"),
    "Repeat troponin in 3 hours": ("repeat troponin", "serial troponins"),
    "IV heparin infusion": ("heparin", "IV heparin", "heparin drip", "unfractionated heparin",
                            "IV heparin bolus", "systemic anticoagulation", "anticoagulation",
                            "heparin infusion"),
    "Oral prednisone": ("prednisone", "oral glucocorticoids"),
    "Chest tube placement": ("chest tube", "tube thoracostomy"),
    "Chest X-ray": ("CXR", "chest radiograph", "chest x ray", "chest film"),
    "IV normal saline bolus": ("normal saline bolus", "IV fluid bolus", "fluid bolus",
                               "saline bolus"),
    "Oral amoxicillin": ("amoxicillin", "oral amoxicillin at home"),
    "IV vancomycin plus piperacillin-tazobactam": (
        "vancomycin and piperacillin-tazobactam", "vancomycin and Zosyn", "vanc and zosyn",
        "piperacillin-tazobactam and vancomycin"),
    "Endotracheal intubation": ("intubation", "intubate", "mechanical ventilation",
                                "intubation and mechanical ventilation"),
    "High-flow oxygen by non-rebreather mask": ("non-rebreather mask", "nonrebreather mask",
                                                "high-flow oxygen"),
    "Inhaled salmeterol": ("salmeterol", "LABA", "long-acting beta agonist"),
    "Oral montelukast": ("montelukast", "Singulair", "leukotriene receptor antagonist"),
    "Colonoscopy": (),
    "Ceftriaxone plus doxycycline": ("ceftriaxone and doxycycline",
                                     "IM ceftriaxone and oral doxycycline"),
    "Discharge with oral analgesia": ("discharge home", "oral analgesia and discharge",
                                      "discharge"),
    "Laparoscopic cholecystectomy": ("cholecystectomy", "lap chole"),
    "HIDA scan": ("cholescintigraphy", "hepatobiliary iminodiacetic acid scan",
                  "HIDA", "hepatobiliary scintigraphy"),
    "CT abdomen with contrast": ("CT of the abdomen with contrast", "contrast CT abdomen",
                                 "CT abdomen and pelvis with contrast", "CT scan of the abdomen",
                                 "CT abdomen", "abdominal CT"),
    "Prophylactic IV imipenem": ("imipenem", "prophylactic antibiotics",
                                 "prophylactic carbapenem"),
    "H. pylori breath test": ("urea breath test", "H pylori testing", "H. pylori testing",
                              "Helicobacter pylori breath test"),
    "IV octreotide": ("octreotide",),
    "Tagged red blood cell scan": ("tagged RBC scan", "RBC scintigraphy",
                                   "nuclear bleeding scan"),
    "Oral aspirin": ("aspirin", "aspirin 325 mg"),
    "MRI of the brain": ("brain MRI", "MRI brain", "MRI head", "MRI of the head"),
    "Lumbar puncture": ("LP", "spinal tap", "lumbar tap"),
    "Subcutaneous sumatriptan": ("sumatriptan", "triptan"),
    "EEG": ("electroencephalogram", "electroencephalography"),
    "IV methylprednisolone": ("methylprednisolone", "high-dose steroids", "IV steroids",
                              "Solu-Medrol"),
    "Oral pyridostigmine": ("pyridostigmine", "Mestinon"),
    "Incision and drainage": ("I&D", "I and D"),
    "Apixaban": ("oral apixaban", "Eliquis", "anticoagulation"),
    "Hyperbaric oxygen therapy": ("hyperbaric oxygen", "HBO", "HBOT"),
    "Oral cephalexin at home": (),
    "Contrast venography": ("venography", "venogram"),
    "Subcutaneous insulin glargine": ("insulin glargine", "glargine", "Lantus",
                                      "long-acting insulin"),
    "Oral glucose gel": ("glucose gel", "oral glucose", "glucose tablets"),
    "Potassium iodide": ("SSKI", "Lugol iodine", "iodine", "Lugol solution"),
    "Radioactive iodine ablation": ("radioactive iodine", "RAI", "I-131"),
    "Levothyroxine": ("Synthroid", "thyroxine"),
    "Cosyntropin stimulation test": ("ACTH stimulation test", "cosyntropin test",
                                     "ACTH stim test"),
    "Percutaneous nephrostomy": ("nephrostomy", "nephrostomy tube"),
    "Open surgical stone removal": ("open surgery", "open lithotomy"),
    "Oral nitrofurantoin": ("nitrofurantoin", "Macrobid"),
    "Sodium polystyrene sulfonate": ("Kayexalate", "SPS", "polystyrene sulfonate"),
    "Repeat potassium measurement": ("repeat potassium", "repeat the potassium level",
                                     "recheck potassium"),
    "Scrotal elevation and NSAIDs": ("scrotal support and NSAIDs", "NSAIDs and scrotal support"),
    "IM methotrexate": ("methotrexate",),
    "Repeat beta-hCG in 1 week": ("repeat hCG in 1 week", "repeat beta hCG in one week"),
    "Oral metronidazole alone": ("metronidazole alone",),
    "Oral fluconazole": ("fluconazole", "Diflucan"),
    "IV phenytoin": ("phenytoin", "fosphenytoin", "Dilantin"),
    "Throat examination with a tongue depressor": (
        "examine the throat", "tongue depressor", "oropharyngeal examination"),
    "IV ceftriaxone alone": (),
    "Arthrocentesis": ("joint aspiration", "synovial fluid analysis", "knee aspiration",
                       "aspiration of the joint", "diagnostic arthrocentesis", "joint tap",
                       "synovial fluid aspiration", "aspiration of the joint fluid"),
    "Intra-articular corticosteroid injection": ("steroid injection", "joint injection",
                                                 "intra-articular steroids"),
    "Oral colchicine": ("colchicine",),
    "MRI of the knee": ("knee MRI",),
    "MRI of the foot": ("foot MRI",),
    "Serum uric acid level": ("uric acid level", "serum urate", "uric acid"),
    "Antinuclear antibody test": ("ANA", "antinuclear antibodies"),
    "Oral azithromycin": ("azithromycin", "macrolide", "oral macrolide", "clarithromycin",
                          "azithromycin for 5 days"),
    "Back blows": ("back blows and chest thrusts", "Heimlich maneuver", "abdominal thrusts"),
    "Upper GI series": ("upper GI contrast study", "barium meal", "UGI series"),
    "Oral rehydration and discharge": (),
    "Immediate pyloromyotomy": ("pyloromyotomy", "Ramstedt pyloromyotomy",
                                "laparoscopic pyloromyotomy"),
    "Thickened feeds": ("thickened feedings", "formula thickening"),
    "Oral ciprofloxacin": ("ciprofloxacin", "Cipro"),
    "Hemodialysis": ("dialysis", "emergent hemodialysis", "HD"),
    "IV flumazenil": ("flumazenil",),
    "IV physostigmine": ("physostigmine",),
    "IV hydroxocobalamin": ("hydroxocobalamin", "Cyanokit"),
    "Methylene blue": ("IV methylene blue",),
}


@dataclass
class Condition:
    """One condition of the table. Texts are templates (``toolkit.fill``); a leading tag keeps
    an entry for some patients only (see ``_for_patient``); a sign's leading ``is:`` makes it
    part of "<He> is ..." (appearance); a mimic's leading ``exam:`` or ``test:`` puts it with the
    examination or the results instead of the history."""

    key: str
    name: str
    synonyms: tuple[str, ...]
    system: str
    ages: tuple[float, float]  # of the patients written, years
    plausible: tuple[float, float]  # ages at which it is a credible look-alike, years
    presentations: tuple[str, ...]
    key_signs: tuple[tuple[str, ...], ...]  # one finding of each group is always shown
    key_tests: tuple[tuple[str, ...], ...]
    lookalikes: tuple[str, ...]
    step: str
    step_distractors: tuple[str, ...]
    sex: str | None = None
    mode: str = "auto"  # auto: adult or child by age; found: brought in by EMS; ob: pregnant
    history: tuple[str, ...] = ()  # noun phrases: "with <history>", "<He> has <history>."
    context: tuple[str, ...] = ()  # sentences
    signs: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    dx_tests: tuple[str, ...] = ()  # shown only when the question is the diagnosis
    vitals: dict[str, tuple[float, float]] = field(default_factory=dict)
    atypical: tuple[str, ...] = ()
    mimics: tuple[str, ...] = ()
    distractors: tuple[str, ...] = ()
    step_question: str = ""
    step_context: str = ""
    variants: tuple[dict[str, str], ...] = ()  # coherent slot values (a side, a lesion)
    compute: Callable[[random.Random], dict[str, str]] | None = None
    pregnant: bool = False


def _abg(paco2: tuple[int, int], hco3: tuple[int, int]) -> Callable:
    """Slots ph, paco2, hco3 that obey Henderson-Hasselbalch."""
    def compute(rng: random.Random) -> dict[str, str]:
        p, h = rng.randint(*paco2), rng.randint(*hco3)
        return {"ph": f"{6.1 + math.log10(h / (0.03 * p)):.2f}", "paco2": str(p), "hco3": str(h)}
    return compute


def _dka(rng: random.Random) -> dict[str, str]:
    hco3 = rng.randint(6, 12)
    paco2 = round(1.5 * hco3 + 8 + rng.uniform(-2, 2))  # Winter's formula
    na, gap = rng.randint(129, 136), rng.randint(22, 30)
    return {"ph": f"{6.1 + math.log10(hco3 / (0.03 * paco2)):.2f}", "hco3": str(hco3),
            "na": str(na), "cl": str(na - gap - hco3), "k": f"{rng.randint(52, 60) / 10:.1f}",
            "glu": str(rng.randint(420, 640))}


def _hhs(rng: random.Random) -> dict[str, str]:
    na, glu, bun = rng.randint(138, 146), rng.randint(860, 1240), rng.randint(48, 72)
    return {"na": str(na), "glu": f"{glu:,}", "bun": str(bun),
            "osm": str(round(2 * na + glu / 18 + bun / 2.8)), "hco3": str(rng.randint(20, 25))}


def _salicylate(rng: random.Random) -> dict[str, str]:
    hco3 = rng.randint(16, 19)
    paco2 = round(hco3 * rng.uniform(1.33, 1.55))  # pH 7.43-7.50: respiratory alkalosis
    na, gap = rng.randint(137, 142), rng.randint(18, 24)  # with a raised anion gap
    return {"ph": f"{6.1 + math.log10(hco3 / (0.03 * paco2)):.2f}", "paco2": str(paco2),
            "hco3": str(hco3), "na": str(na), "cl": str(na - gap - hco3)}


SIDES = ({"side": "left", "opp": "right"}, {"side": "right", "opp": "left"})

C = Condition
CONDITIONS: tuple[Condition, ...] = (
    # --- cardiology ------------------------------------------------------------------------
    C("stemi", "ST-elevation myocardial infarction",
      ("STEMI", "acute myocardial infarction", "myocardial infarction", "acute MI", "MI",
       "heart attack", "inferior STEMI", "anterior STEMI", "inferior MI", "anterior MI",
       "inferior wall myocardial infarction", "anterior wall myocardial infarction"),
      "cardiology", (45, 85), (30, 100),
      presentations=(
          "crushing substernal chest pressure for the past {40-90} minutes radiating to "
          "{his} left arm",
          "{1-3} hours of heavy retrosternal chest pain radiating to the jaw, with sweating "
          "and nausea",
          "chest tightness that began at rest {30-80} minutes ago, with diaphoresis and "
          "shortness of breath"),
      history=("hypertension, type 2 diabetes and hyperlipidemia",
               "a {30-50}-pack-year smoking history and hypercholesterolemia",
               "hypertension and a father with coronary disease diagnosed at {48-56}",
               "type 2 diabetes and obesity"),
      key_signs=(("diaphoresis", "is:diaphoretic and anxious", "pale, clammy skin"),),
      signs=("an S4 gallop", "lungs clear to auscultation", "no pericardial friction rub",
             "equal blood pressures in both arms", "no leg swelling", "normal JVP"),
      key_tests=(("ECG: {2-4}-mm ST elevation in II, III and aVF with reciprocal ST "
                  "depression in I and aVL.",
                  "ECG: ST elevation of {2-4} mm in V1-V4 with reciprocal ST depression in the "
                  "inferior leads."),),
      tests=("High-sensitivity troponin T {40-380} ng/L (reference <14).",
             "Chest X-ray: normal mediastinum, no infiltrate.",
             "Glucose {140-210} mg/dL."),
      vitals={"hr": (86, 112), "sbp": (110, 158), "dbp": (68, 94), "rr": (16, 22),
              "spo2": (94, 98)},
      atypical=("{2-5} hours of epigastric discomfort and nausea that {he} attributes to "
                "indigestion",
                "sudden fatigue and shortness of breath without chest pain",
                "lightheadedness and nausea that began while {he} was gardening, without "
                "chest pain"),
      mimics=("The pain radiates to {his} back.", "{He} vomited twice on the way in.",
              "exam:mild epigastric tenderness"),
      distractors=("{He} had a viral upper respiratory infection 2 weeks ago.",
                   "{He} flew back from Tokyo {3-5} days ago.",
                   "{He} takes omeprazole for reflux and says this feels like heartburn."),
      lookalikes=("aortic_dissection", "pericarditis", "pe", "pancreatitis", "perforated_ulcer",
                  "adhf"),
      step="Emergent cardiac catheterization",
      step_context="{He} has received aspirin. An interventional cardiology team is on site.",
      step_distractors=("CT angiography of the aorta", "NSAIDs and colchicine",
                        "CT pulmonary angiography", "Repeat troponin in 3 hours",
                        "Exercise stress test")),
    C("aortic_dissection", "Aortic dissection",
      ("acute aortic dissection", "dissecting aortic aneurysm", "type A aortic dissection",
       "type B aortic dissection", "thoracic aortic dissection", "dissection of the aorta",
       "Stanford type A dissection", "aortic dissection type A"),
      "cardiology", (50, 82), (25, 100),
      presentations=(
          "sudden, severe tearing chest pain that radiates to {his} back",
          "abrupt-onset ripping pain between the shoulder blades that was worst at onset",
          "sudden severe chest pain radiating to the interscapular region that began "
          "{20-60} minutes ago"),
      history=("long-standing, poorly controlled hypertension",
               "hypertension and a known bicuspid aortic valve",
               "hypertension; {he} stopped {his} medications months ago"),
      key_signs=(("a {22-40} mm Hg difference in systolic pressure between the arms",
                  "a diminished left radial pulse compared with the right"),),
      signs=("a soft early diastolic decrescendo murmur at the left sternal border",
             "diaphoresis", "lungs clear", "no friction rub"),
      key_tests=(("Chest X-ray: widened mediastinum.",
                  "Chest X-ray: widened mediastinum with a blurred aortic knob."),),
      tests=("ECG: left ventricular hypertrophy, no ST elevation.",
             "High-sensitivity troponin T {8-13} ng/L."),
      vitals={"hr": (90, 115), "sbp": (164, 194), "dbp": (90, 108), "rr": (18, 24),
              "spo2": (95, 99)},
      atypical=("a brief fainting episode followed by mild chest discomfort",
                "sudden, severe back and upper abdominal pain"),
      mimics=("The pain briefly radiated to {his} left arm.",
              "test:High-sensitivity troponin T is mildly raised at {18-30} ng/L."),
      distractors=("{He} returned from a long-haul flight {2-3} days ago.",
                   "{He} had a cold last week.",
                   "{His} brother had a heart attack at {52-60}."),
      lookalikes=("stemi", "pe", "pericarditis", "ureteral_stone", "perforated_ulcer"),
      step="CT angiography of the aorta",
      step_context="Creatinine is {0.8-1.1} mg/dL. {He} remains hemodynamically stable.",
      step_distractors=("Emergent cardiac catheterization", "IV alteplase",
                        "NSAIDs and colchicine", "IV heparin infusion",
                        "Exercise stress test")),
    C("pericarditis", "Acute pericarditis",
      ("pericarditis", "viral pericarditis", "acute viral pericarditis",
       "idiopathic pericarditis", "acute idiopathic pericarditis"),
      "cardiology", (18, 55), (12, 100),
      presentations=(
          "{2-4} days of sharp chest pain that improves when {he} sits up and leans forward",
          "sharp central chest pain for {2-3} days that is worse lying flat and with deep "
          "breaths",
          "stabbing chest pain radiating to {his} trapezius ridge, worse on inspiration and "
          "when supine"),
      context=("{He} had a sore throat and runny nose {1-2} weeks ago.",
               "{He} had a flu-like illness last week."),
      key_signs=(("a scratchy, three-component friction rub at the left sternal border",
                  "a pericardial friction rub heard best leaning forward"),),
      signs=("lungs clear", "no JVD", "no pulsus paradoxus", "no leg swelling"),
      key_tests=(("ECG: diffuse concave ST elevation with PR depression.",
                  "ECG: widespread ST elevation with PR depression and PR elevation in aVR."),),
      tests=("High-sensitivity troponin T {6-12} ng/L.", "CRP {18-60} mg/L.",
             "Chest X-ray: normal."),
      vitals={"t": (37.4, 38.2), "hr": (90, 108), "rr": (16, 22)},
      atypical=("{3-5} days of vague chest discomfort, fatigue and low-grade fevers",),
      mimics=("The pain radiates to {his} left shoulder.",
              "{He} feels short of breath when lying down."),
      distractors=("{He} has a 20-pack-year smoking history.",
                   "{His} father had a heart attack at {50-58}.",
                   "{He} took a 10-hour flight {4-7} days ago."),
      lookalikes=("stemi", "pe", "aortic_dissection", "tamponade", "cap"),
      step="NSAIDs and colchicine",
      step_question="What is the most appropriate treatment?",
      step_context="Bedside echocardiography shows a trivial pericardial effusion without "
                   "tamponade; troponin is normal.",
      step_distractors=("Emergent cardiac catheterization", "Pericardiocentesis",
                        "Oral prednisone", "IV heparin infusion", "IV alteplase")),
    C("tamponade", "Cardiac tamponade",
      ("pericardial tamponade", "tamponade", "pericardial effusion with tamponade",
       "malignant pericardial effusion with tamponade"),
      "cardiology", (35, 80), (18, 100),
      presentations=(
          "{2-5} days of progressive dyspnea and lightheadedness",
          "worsening shortness of breath and fatigue over {3-6} days, now with near-fainting",
          "increasing breathlessness and chest heaviness for {3-5} days"),
      history=("metastatic lung adenocarcinoma", "end-stage kidney disease on hemodialysis",
               "F:metastatic breast cancer", "non-Hodgkin lymphoma on chemotherapy"),
      key_signs=(("jugular venous distension",), ("distant, muffled heart sounds",
                                                  "pulsus paradoxus of {14-24} mm Hg")),
      signs=("clear lungs", "trachea midline", "equal breath sounds bilaterally",
             "cool extremities"),
      key_tests=(("ECG: sinus tachycardia with low-voltage QRS complexes and electrical "
                  "alternans.",
                  "ECG: sinus tachycardia, low voltage and beat-to-beat alternation of QRS "
                  "amplitude."),),
      tests=("Chest X-ray: enlarged, globular cardiac silhouette with clear lung fields.",),
      vitals={"hr": (112, 132), "sbp": (78, 92), "dbp": (50, 62), "rr": (22, 28),
              "spo2": (93, 97)},
      mimics=("{He} had pleuritic chest pain and low-grade fevers last week.",),
      distractors=("{He} has COPD and uses an albuterol inhaler.",
                   "{He} had a long car trip {3-4} days ago."),
      lookalikes=("tension_ptx", "adhf", "pe", "pericarditis"),
      step="Pericardiocentesis",
      step_context="Bedside ultrasound shows a large circumferential pericardial effusion with "
                   "right ventricular diastolic collapse.",
      step_distractors=("IV loop diuretic", "Needle decompression",
                        "Emergent cardiac catheterization", "NSAIDs and colchicine",
                        "IV alteplase")),
    C("adhf", "Acute decompensated heart failure",
      ("ADHF", "acute heart failure", "heart failure exacerbation", "CHF exacerbation",
       "decompensated heart failure", "congestive heart failure", "CHF",
       "acute pulmonary edema", "cardiogenic pulmonary edema", "heart failure",
       "acute on chronic heart failure", "decompensated HFrEF", "HFrEF exacerbation"),
      "cardiology", (55, 88), (30, 100),
      presentations=(
          "{3-7} days of worsening shortness of breath, now needing {2-3} pillows to sleep",
          "progressive exertional dyspnea, waking at night gasping for air, and a "
          "{2-4}-kg weight gain over a week",
          "increasing leg swelling and breathlessness when lying flat"),
      history=("ischemic cardiomyopathy (ejection fraction {25-35}%)",
               "dilated cardiomyopathy (ejection fraction {25-35}%)",
               "a prior anterior MI and hypertension"),
      context=("{He} ran out of {his} water pill {5-10} days ago.",
               "{He} ate salty food at a family gathering over the weekend."),
      key_signs=(("jugular venous pressure elevated to the angle of the jaw",
                  "raised JVP with hepatojugular reflux"),
                 ("bibasilar inspiratory crackles", "crackles halfway up both lung fields")),
      signs=("an S3 gallop", "2+ pitting edema to the knees", "bilateral pitting ankle edema"),
      key_tests=(("BNP {900-2,400} pg/mL.", "NT-proBNP {4,500-12,000} pg/mL."),
                 ("Chest X-ray: cephalization, Kerley B lines and small bilateral pleural "
                  "effusions.",
                  "Chest X-ray: cardiomegaly with bilateral perihilar interstitial edema.")),
      tests=("Creatinine {1.2-1.6} mg/dL.", "Sodium {131-136} mEq/L.",
             "ECG: sinus tachycardia, old Q waves, no acute ST changes."),
      vitals={"hr": (92, 112), "sbp": (142, 176), "dbp": (82, 98), "rr": (22, 28),
              "spo2": (88, 93)},
      mimics=("{He} has a mild cough with frothy white sputum.",
              "exam:scattered expiratory wheezes"),
      distractors=("{He} is a former smoker with mild COPD.",
                   "{His} grandson had a cold last week."),
      lookalikes=("cap", "copd", "pe", "tamponade"),
      step="IV loop diuretic",
      step_context="{He} is started on supplemental oxygen and {his} SpO2 improves to 95%.",
      step_distractors=("IV normal saline bolus", "Pericardiocentesis",
                        "Ceftriaxone plus azithromycin", "CT pulmonary angiography",
                        "Needle decompression")),
    # --- pulmonary -------------------------------------------------------------------------
    C("pe", "Pulmonary embolism",
      ("PE", "pulmonary embolus", "pulmonary thromboembolism", "acute pulmonary embolism",
       "pulmonary emboli", "submassive pulmonary embolism"),
      "pulmonary", (25, 80), (14, 100),
      presentations=(
          "sudden shortness of breath and sharp {side}-sided chest pain that worsens with "
          "inspiration",
          "acute dyspnea that began {2-6} hours ago, with pleuritic chest pain",
          "sudden breathlessness and palpitations that began this morning"),
      context=("{He} had a total knee replacement {2-3} weeks ago.",
               "{He} returned from a 14-hour flight {2-4} days ago.",
               "W:{He} takes a combined oral contraceptive and smokes.",
               "{He} is receiving chemotherapy for pancreatic cancer.",
               "{His} {opp} leg has been in a cast for {3-5} weeks after an ankle fracture."),
      key_signs=(("a swollen, tender {opp} calf",
                  "a {opp} calf {2-4} cm larger than the {side}, tender along the deep veins",
                  "unilateral {opp} leg swelling"),),
      signs=("lungs clear to auscultation", "normal heart sounds", "no JVD", "no murmur"),
      key_tests=(("ABG on room air: pH {ph}, PaCO2 {paco2} mm Hg, PaO2 {56-66} mm Hg.",),
                 ("Chest X-ray: no infiltrate, effusion or pneumothorax.",
                  "Chest X-ray: clear lung fields.")),
      tests=("ECG: sinus tachycardia with new T-wave inversions in V1-V3.",
             "ECG: sinus tachycardia with an S1Q3T3 pattern.", "Troponin is normal."),
      vitals={"t": (37.0, 37.9), "hr": (104, 124), "sbp": (112, 136), "dbp": (68, 84),
              "rr": (22, 30), "spo2": (87, 93)},
      compute=_abg((28, 33), (21, 23)),
      atypical=("a fainting episode while climbing stairs and mild breathlessness since",
                "{2-3} days of mild exertional breathlessness and new palpitations"),
      mimics=("{He} coughed up a small amount of blood-streaked sputum.",
              "test:High-sensitivity troponin T is mildly raised at {20-35} ng/L."),
      distractors=("{He} has a history of anxiety with panic attacks.",
                   "{He} has GERD and ran out of omeprazole last week.",
                   "{His} child had a cold last week."),
      lookalikes=("stemi", "cap", "pericarditis", "tension_ptx", "adhf"),
      step="CT pulmonary angiography",
      step_context="Creatinine is {0.7-1.0} mg/dL and {he} has no contrast allergy. "
                   "Blood pressure remains stable.",
      step_distractors=("Emergent cardiac catheterization", "IV alteplase",
                        "Chest tube placement", "NSAIDs and colchicine",
                        "Ceftriaxone plus azithromycin")),
    C("tension_ptx", "Tension pneumothorax",
      ("tension PTX", "tension pneumo", "pneumothorax", "PTX"),
      "pulmonary", (18, 70), (10, 100),
      presentations=(
          "sudden, severe shortness of breath and {side}-sided chest pain",
          "rapidly worsening dyspnea and {side} chest pain"),
      context=("{He} was stabbed in the {side} chest {20-40} minutes ago.",
               "{He} was the unrestrained driver in a high-speed car crash; the {side} chest "
               "hit the steering wheel.",
               "Y:{He} is a tall, thin smoker.",
               "{He} has severe bullous emphysema."),
      key_signs=(("absent breath sounds over the {side} hemithorax",
                  "no breath sounds on the {side}"),
                 ("hyperresonance to percussion on the {side}",
                  "a hyperresonant {side} hemithorax"),
                 ("trachea deviated to the {opp}", "tracheal deviation to the {opp}")),
      signs=("is:agitated and diaphoretic",
             "the {side} chest moves less with breathing"),
      key_tests=(),
      tests=("Bedside ultrasound: no lung sliding on the {side}.",),
      vitals={"hr": (124, 142), "sbp": (72, 88), "dbp": (40, 56), "rr": (30, 38),
              "spo2": (80, 88)},
      variants=SIDES,
      mimics=("exam:distended neck veins", "{He} feels like {he} is about to faint."),
      distractors=("{He} has a history of asthma.", "{He} had a cold last week."),
      lookalikes=("tamponade", "pe", "stemi", "asthma"),
      step="Needle decompression",
      step_distractors=("Chest X-ray", "Pericardiocentesis", "CT pulmonary angiography",
                        "IV loop diuretic", "IV alteplase")),
    C("cap", "Community-acquired pneumonia",
      ("CAP", "pneumonia", "lobar pneumonia", "bacterial pneumonia", "pneumococcal pneumonia",
       "lower lobe pneumonia", "right lower lobe pneumonia", "left lower lobe pneumonia"),
      "pulmonary", (66, 88), (0, 100),
      presentations=(
          "{3-5} days of fever, chills and cough productive of rust-colored sputum",
          "fever, productive cough and {side}-sided pleuritic chest pain for {3-4} days",
          "{2-4} days of cough with green sputum, fevers and increasing breathlessness"),
      history=("type 2 diabetes and hypertension", "chronic kidney disease stage 3",
               "mild dementia; {he} lives with {his} daughter"),
      key_signs=(("dullness to percussion, bronchial breath sounds and egophony over the "
                  "{side} lower chest",
                  "crackles and increased tactile fremitus over the {side} lower lobe"),),
      signs=("no leg edema", "JVP not raised", "mild confusion"),
      key_tests=(("Chest X-ray: {side} lower lobe consolidation with air bronchograms.",
                  "Chest X-ray: dense {side} lower lobe opacity with air bronchograms."),),
      tests=("WBC {14,000-21,000}/mm3 with {10-18}% bands.", "BUN {22-34} mg/dL.",
             "Procalcitonin {1.2-6.5} ng/mL."),
      vitals={"t": (38.4, 39.6), "hr": (98, 118), "sbp": (108, 132), "dbp": (60, 78),
              "rr": (22, 28), "spo2": (89, 93)},
      variants=SIDES,
      atypical=("{2-3} days of new confusion and poor oral intake, without cough",),
      mimics=("exam:mild bilateral ankle edema",
              "test:D-dimer {900-1,600} ng/mL FEU."),
      distractors=("{He} has atrial fibrillation and takes apixaban.",
                   "{He} had a knee arthroscopy {3-4} months ago."),
      lookalikes=("pe", "adhf", "copd", "pyelonephritis"),
      step="Ceftriaxone plus azithromycin",
      step_question="What is the most appropriate empiric treatment?",
      step_context="{He} is admitted to a general medical ward. {He} has had no recent "
                   "hospitalization or antibiotics and no known MRSA or Pseudomonas.",
      step_distractors=("Oral amoxicillin", "IV vancomycin plus piperacillin-tazobactam",
                        "IV loop diuretic", "CT pulmonary angiography")),
    C("copd", "COPD exacerbation",
      ("acute exacerbation of COPD", "AECOPD", "COPD flare", "exacerbation of COPD",
       "acute exacerbation of chronic obstructive pulmonary disease",
       "chronic obstructive pulmonary disease exacerbation", "COPD exacerbation",
       "infective exacerbation of COPD"),
      "pulmonary", (58, 82), (40, 100),
      presentations=(
          "{2-4} days of worsening breathlessness with more sputum than usual, now green",
          "increasing wheeze and dyspnea since a cold {3-5} days ago; {he} can now only "
          "speak in short sentences"),
      history=("COPD on tiotropium and a {40-70}-pack-year smoking history",
               "severe COPD (FEV1 {30-45}% of predicted); {he} still smokes"),
      key_signs=(("diffuse expiratory wheezes with a prolonged expiratory phase",
                  "prolonged expiration with scattered wheezes"),
                 ("pursed-lip breathing and accessory muscle use",
                  "use of accessory muscles")),
      signs=("barrel chest", "distant breath sounds", "no leg edema"),
      key_tests=(("Chest X-ray: hyperinflation with flattened diaphragms and no infiltrate.",
                  "Chest X-ray: hyperinflated lungs, no consolidation."),),
      tests=("BNP {40-90} pg/mL.",),
      dx_tests=("ABG: pH {ph}, PaCO2 {paco2} mm Hg, HCO3 {hco3} mEq/L.",),
      vitals={"t": (37.0, 37.8), "hr": (96, 114), "sbp": (130, 150), "dbp": (76, 90),
              "rr": (24, 30), "spo2": (84, 89)},
      compute=_abg((56, 66), (29, 32)),
      mimics=("exam:mild bilateral ankle edema", "exam:a few crackles at the right base"),
      distractors=("{He} had a hip replacement {4-6} months ago.",
                   "{His} wife was recently treated for pneumonia."),
      lookalikes=("adhf", "cap", "pe", "asthma"),
      step="Noninvasive positive pressure ventilation",
      step_context="An ABG after nebulized bronchodilators, IV steroids and antibiotics shows "
                   "pH {7.26-7.30} and PaCO2 {66-74} mm Hg. {He} is alert and cooperative.",
      step_distractors=("Endotracheal intubation", "IV loop diuretic",
                        "CT pulmonary angiography", "Needle decompression",
                        "High-flow oxygen by non-rebreather mask")),
    C("asthma", "Asthma exacerbation",
      ("acute asthma exacerbation", "asthma attack", "acute asthma", "asthma flare",
       "exacerbation of asthma", "status asthmaticus", "acute exacerbation of asthma"),
      "pulmonary", (6, 35), (3, 100),
      presentations=(
          "{6-24} hours of wheezing, chest tightness and cough after a cold",
          "shortness of breath and wheeze that started while cleaning a dusty attic",
          "worsening wheeze and breathlessness since {he} caught a cold {2-3} days ago"),
      history=("asthma since childhood; {he} has used {his} rescue inhaler more often this week",
               "intermittent asthma and seasonal allergies"),
      context=("{He} ran out of {his} inhaled budesonide a month ago.",),
      key_signs=(("diffuse bilateral expiratory wheezes", "widespread expiratory wheeze"),),
      signs=("prolonged expiration", "is:able to speak only in short phrases",
             "mild intercostal retractions", "no stridor"),
      key_tests=(("Peak expiratory flow {45-60}% of {his} personal best.",),),
      vitals={"t": (36.8, 37.6), "hr": (108, 124), "rr": (24, 30), "spo2": (91, 94)},
      mimics=("{He} has had a runny nose and felt feverish.",),
      distractors=("{His} grandfather has COPD.", "{He} had pneumonia {2-3} years ago."),
      lookalikes=("copd", "cap", "foreign_body", "pe", "croup"),
      step="Inhaled albuterol",
      step_question="What is the most appropriate initial treatment?",
      step_distractors=("Inhaled salmeterol", "Oral montelukast", "Chest X-ray",
                        "Rigid bronchoscopy")),
    # --- GI / surgery ----------------------------------------------------------------------
    C("appendicitis", "Acute appendicitis",
      ("appendicitis", "acute appendicitis", "uncomplicated appendicitis"),
      "gastrointestinal", (10, 45), (2, 100),
      presentations=(
          "{12-30} hours of abdominal pain that began around the umbilicus and has moved to "
          "the right lower quadrant, with anorexia and nausea",
          "right lower quadrant pain since yesterday, preceded by vague periumbilical pain "
          "and one episode of vomiting"),
      key_signs=(("maximal tenderness at McBurney point with guarding",
                  "right lower quadrant tenderness with rebound"),),
      signs=("a positive Rovsing sign", "pain on passive right hip extension (psoas sign)",
             "no costovertebral angle tenderness"),
      key_tests=(("WBC {12,800-17,500}/mm3 with neutrophilia.",
                  "WBC {13,000-16,500}/mm3, {82-88}% neutrophils."),),
      tests=("Urinalysis: {0-3} WBC/hpf, no nitrites or bacteria.",
             "W:Urine beta-hCG negative."),
      vitals={"t": (37.6, 38.4), "hr": (90, 108)},
      atypical=("diffuse lower abdominal pain with low-grade fever since yesterday",
                "right flank and back pain since yesterday, with nausea"),
      mimics=("{He} reports mild burning on urination.", "{He} has had two loose stools."),
      distractors=("{His} sibling has had gastroenteritis this week.",
                   "{He} ate at a street food stall two days ago."),
      lookalikes=("ectopic", "ovarian_torsion", "pid", "ureteral_stone", "pyelonephritis",
                  "gastroenteritis", "testicular_torsion"),
      step="Appendectomy",
      step_context="CT of the abdomen shows a dilated {10-13}-mm appendix with periappendiceal "
                   "fat stranding and no abscess. IV antibiotics have been started.",
      step_distractors=("Colonoscopy", "ERCP", "Ceftriaxone plus doxycycline",
                        "Discharge with oral analgesia", "Upper endoscopy")),
    C("cholecystitis", "Acute cholecystitis",
      ("cholecystitis", "acute calculous cholecystitis", "calculous cholecystitis",
       "gallbladder inflammation"),
      "gastrointestinal", (35, 70), (16, 100),
      presentations=(
          "{8-24} hours of constant right upper quadrant pain radiating to the right shoulder "
          "blade, with nausea and vomiting, that began after a fatty meal",
          "right upper quadrant pain since last night that has not eased, with fever and "
          "nausea; {he} has had shorter similar episodes after meals"),
      history=("obesity and type 2 diabetes", "F:obesity and four prior pregnancies",
               "hyperlipidemia"),
      key_signs=(("right upper quadrant tenderness with inspiratory arrest on palpation",
                  "a positive Murphy sign"),),
      signs=("no jaundice", "voluntary guarding in the right upper quadrant",
             "no costovertebral angle tenderness"),
      key_tests=(("WBC {13,000-17,000}/mm3; total bilirubin {0.6-1.2} mg/dL, ALP "
                  "{90-130} U/L.",
                  "WBC {12,800-16,500}/mm3; bilirubin, ALP and AST normal."),),
      tests=("Lipase {30-55} U/L (reference <60).", "W:Urine beta-hCG negative."),
      vitals={"t": (37.8, 38.6), "hr": (92, 108)},
      mimics=("test:Lipase {70-110} U/L (reference <60).", "exam:mild epigastric tenderness"),
      distractors=("{He} drinks {2-3} beers on weekends.",
                   "{His} father had a heart attack at {55-60}."),
      lookalikes=("cholangitis", "pancreatitis", "perforated_ulcer", "appendicitis",
                  "pyelonephritis", "stemi"),
      step="Right upper quadrant ultrasound",
      step_question="What is the most appropriate next step in diagnosis?",
      step_distractors=("HIDA scan", "ERCP", "Upper endoscopy", "Colonoscopy")),
    C("cholangitis", "Acute cholangitis",
      ("ascending cholangitis", "cholangitis", "acute ascending cholangitis",
       "bacterial cholangitis", "acute suppurative cholangitis"),
      "gastrointestinal", (45, 85), (20, 100),
      presentations=(
          "{1-2} days of fever with rigors, right upper quadrant pain and yellow eyes",
          "fever, chills and right upper quadrant pain since yesterday; {his} family noticed "
          "{his} skin is yellow"),
      history=("known gallstones", "gallstones; {he} declined surgery last year"),
      key_signs=(("scleral icterus", "jaundice"),),
      signs=("right upper quadrant tenderness", "no rebound", "no ascites"),
      key_tests=(("Total bilirubin {3.8-6.9} mg/dL, ALP {310-560} U/L, GGT {280-520} U/L.",
                  "Bilirubin {4.1-6.5} mg/dL (mostly direct), ALP {350-600} U/L."),),
      tests=("WBC {15,000-22,000}/mm3 with a left shift.", "Lipase {25-50} U/L.",
             "AST {90-180} U/L, ALT {110-220} U/L."),
      vitals={"t": (38.6, 39.6), "hr": (104, 120), "sbp": (100, 118), "dbp": (58, 72),
              "rr": (18, 24)},
      mimics=("{He} also has mild epigastric pain going through to the back.",),
      distractors=("{He} returned from a trip to Mexico {2-3} weeks ago.",
                   "{He} drinks a glass of wine most nights."),
      lookalikes=("cholecystitis", "pancreatitis", "pyelonephritis", "perforated_ulcer"),
      step="ERCP",
      step_context="Blood cultures are drawn and IV piperacillin-tazobactam is started. "
                   "Ultrasound shows a {10-13}-mm common bile duct with stones.",
      step_distractors=("Laparoscopic cholecystectomy", "HIDA scan", "Upper endoscopy",
                        "Colonoscopy", "CT angiography of the abdomen")),
    C("pancreatitis", "Acute pancreatitis",
      ("pancreatitis", "acute alcoholic pancreatitis", "gallstone pancreatitis",
       "alcohol-induced pancreatitis", "acute gallstone pancreatitis",
       "alcoholic pancreatitis", "acute biliary pancreatitis"),
      "gastrointestinal", (30, 70), (14, 100),
      presentations=(
          "severe constant epigastric pain radiating straight through to {his} back since "
          "last night, with repeated vomiting",
          "{10-24} hours of epigastric pain boring into {his} back, slightly eased by leaning "
          "forward, with nausea"),
      history=("alcohol use disorder ({6-10} beers a day)", "known gallstones",
               "a history of heavy weekend drinking"),
      key_signs=(("epigastric tenderness with voluntary guarding",
                  "marked epigastric tenderness"),),
      signs=("decreased bowel sounds", "no Murphy sign", "no rebound", "no jaundice"),
      key_tests=(("Lipase {1,200-4,800} U/L (reference <60).",
                  "Lipase {950-3,600} U/L (reference <60)."),),
      tests=("WBC {11,500-15,000}/mm3.", "Calcium {8.4-9.2} mg/dL.",
             "Triglycerides {140-260} mg/dL.", "Total bilirubin {0.6-1.1} mg/dL."),
      vitals={"t": (37.4, 38.2), "hr": (104, 120), "sbp": (104, 126), "dbp": (62, 78),
              "rr": (18, 24)},
      mimics=("test:ECG: sinus tachycardia with nonspecific T-wave flattening.",
              "exam:right upper quadrant tenderness"),
      distractors=("{He} takes ibuprofen often for back pain.",
                   "{His} father died of a heart attack at {58-64}."),
      lookalikes=("perforated_ulcer", "cholecystitis", "stemi", "mesenteric_ischemia",
                  "cholangitis"),
      step="IV fluid resuscitation",
      step_question="In addition to analgesia, what is the most appropriate next step?",
      step_context="There is no jaundice, and bilirubin and liver enzymes are normal.",
      step_distractors=("CT abdomen with contrast", "ERCP", "Prophylactic IV imipenem",
                        "Emergency laparotomy", "Emergent cardiac catheterization")),
    C("perforated_ulcer", "Perforated peptic ulcer",
      ("perforated duodenal ulcer", "perforated gastric ulcer", "peptic ulcer perforation",
       "perforated ulcer", "perforated viscus", "hollow viscus perforation",
       "perforated peptic ulcer disease"),
      "gastrointestinal", (40, 80), (18, 100),
      presentations=(
          "sudden, severe epigastric pain that began {2-6} hours ago and has spread over the "
          "whole abdomen",
          "abrupt, knife-like upper abdominal pain that began {1-4} hours ago; {he} is lying "
          "completely still"),
      history=("knee osteoarthritis treated with daily naproxen",
               "back pain; {he} takes ibuprofen several times a day",
               "months of burning epigastric pain relieved by food"),
      key_signs=(("a rigid, board-like abdomen with diffuse rebound tenderness",
                  "involuntary guarding and rebound tenderness throughout the abdomen"),),
      signs=("absent bowel sounds", "shallow breathing", "no hernias"),
      key_tests=(("Upright chest X-ray: free air under the right hemidiaphragm.",
                  "Upright chest X-ray: subdiaphragmatic free air."),),
      tests=("WBC {13,000-18,000}/mm3.", "Hemoglobin {12.6-14.8} g/dL."),
      vitals={"t": (37.4, 38.3), "hr": (108, 126), "sbp": (100, 122), "dbp": (60, 76),
              "rr": (20, 26)},
      mimics=("test:Lipase {90-160} U/L (reference <60).",
              "{He} vomited once, nonbloody."),
      distractors=("{He} drinks {3-4} beers most nights.",
                   "{He} has gallstones seen on an ultrasound years ago."),
      lookalikes=("pancreatitis", "bleeding_ulcer", "mesenteric_ischemia", "stemi",
                  "cholecystitis", "appendicitis"),
      step="Emergency laparotomy",
      step_context="IV fluids, an IV proton pump inhibitor and broad-spectrum antibiotics have "
                   "been started.",
      step_distractors=("Upper endoscopy", "H. pylori breath test",
                        "CT angiography of the abdomen", "ERCP", "IV octreotide")),
    C("bleeding_ulcer", "Bleeding peptic ulcer",
      ("peptic ulcer bleeding", "bleeding duodenal ulcer", "bleeding gastric ulcer",
       "peptic ulcer disease", "PUD", "upper GI bleed", "upper gastrointestinal bleeding",
       "upper GI bleeding", "UGIB", "bleeding ulcer", "upper gastrointestinal bleed"),
      "gastrointestinal", (45, 85), (18, 100),
      presentations=(
          "{2-3} black, tarry stools since yesterday and lightheadedness on standing",
          "vomiting coffee-ground material this morning after a week of gnawing epigastric "
          "pain"),
      history=("osteoarthritis; {he} takes ibuprofen {3-4} times a day",
               "a coronary stent on aspirin and clopidogrel",
               "rheumatoid arthritis treated with naproxen and prednisone"),
      key_signs=(("black, tarry stool on rectal exam", "melena on rectal exam"),),
      signs=("pale conjunctivae", "mild epigastric tenderness without guarding",
             "no stigmata of chronic liver disease", "no ascites"),
      key_tests=(("Hemoglobin {7.6-9.2} g/dL (13.8 last year).",
                  "Hemoglobin {7.4-9.0} g/dL."),
                 ("BUN {38-64} mg/dL, creatinine {0.9-1.2} mg/dL.",)),
      tests=("Platelets {190,000-320,000}/mm3, INR 1.1.",),
      vitals={"hr": (104, 118), "sbp": (96, 112), "dbp": (56, 70)},
      mimics=("{He} has had diffuse crampy abdominal pain.",),
      distractors=("{He} drinks {2-3} beers on weekends.",
                   "{He} had a colonoscopy with polyp removal {1-2} years ago."),
      lookalikes=("perforated_ulcer", "mesenteric_ischemia", "pancreatitis", "stemi"),
      step="Upper endoscopy",
      step_context="Two large-bore IV lines are placed, IV fluids and an IV proton pump "
                   "inhibitor are started, and {his} blood pressure improves.",
      step_distractors=("Colonoscopy", "Tagged red blood cell scan", "Emergency laparotomy",
                        "H. pylori breath test")),
    C("mesenteric_ischemia", "Acute mesenteric ischemia",
      ("mesenteric ischemia", "acute mesenteric arterial embolism", "mesenteric embolism",
       "superior mesenteric artery embolism", "SMA embolism", "bowel ischemia",
       "ischemic bowel", "intestinal ischemia", "acute intestinal ischemia",
       "mesenteric infarction"),
      "gastrointestinal", (62, 90), (40, 100),
      presentations=(
          "sudden, severe periumbilical pain that began {2-6} hours ago, with vomiting and "
          "one loose stool",
          "abrupt, severe diffuse abdominal pain for {2-5} hours, with nausea and an urge to "
          "defecate"),
      history=("atrial fibrillation; {he} is not anticoagulated because of falls",
               "atrial fibrillation; {he} stopped apixaban {2-4} weeks ago"),
      key_signs=(("a soft abdomen with only mild diffuse tenderness despite severe pain",
                  "pain out of proportion to the exam: the abdomen is soft and only mildly "
                  "tender"),
                 ("an irregularly irregular pulse",)),
      signs=("no rebound or guarding", "no hernias"),
      key_tests=(("Lactate {3.8-6.2} mmol/L.",),),
      tests=("ECG: atrial fibrillation with a ventricular rate of {100-120}/min.",
             "WBC {15,000-22,000}/mm3.", "Lipase {30-55} U/L (reference <60)."),
      vitals={"hr": (104, 124), "sbp": (118, 148), "dbp": (70, 88), "rr": (18, 24)},
      mimics=("test:Lipase {80-140} U/L (reference <60).",
              "{He} passed a small amount of blood with the loose stool."),
      distractors=("{He} had a cholecystectomy {5-10} years ago.",
                   "{He} ate leftover chicken last night."),
      lookalikes=("perforated_ulcer", "pancreatitis", "bleeding_ulcer", "stemi",
                  "gastroenteritis"),
      step="CT angiography of the abdomen",
      step_context="{His} creatinine is {0.9-1.2} mg/dL.",
      step_distractors=("Colonoscopy", "Upper endoscopy", "Right upper quadrant ultrasound",
                        "ERCP")),
    # --- neurology -------------------------------------------------------------------------
    C("stroke", "Acute ischemic stroke",
      ("ischemic stroke", "stroke", "CVA", "cerebrovascular accident", "acute stroke",
       "MCA stroke", "left MCA stroke", "right MCA stroke", "middle cerebral artery stroke",
       "cerebral infarction", "embolic stroke", "acute ischaemic stroke"),
      "neurology", (55, 85), (35, 100),
      presentations=(
          "sudden {opp}-sided weakness and {complaint} that began {60-150} minutes ago",
          "{complaint} and a {opp} facial droop noticed by {his} {partner} {60-150} minutes "
          "ago"),
      history=("hypertension, type 2 diabetes and hyperlipidemia",
               "atrial fibrillation; {he} is not anticoagulated because of cost",
               "hypertension and a {30-45}-pack-year smoking history"),
      key_signs=(("{opp} facial droop and {opp} arm and leg weakness (2/5)",
                  "{opp} hemiparesis sparing the forehead"),
                 ("{cortical}",)),
      signs=("no neck stiffness", "pupils equal and reactive"),
      key_tests=(("Fingerstick glucose {104-160} mg/dL.",),),
      tests=("ECG: sinus rhythm.", "Platelets {180,000-300,000}/mm3, INR 1.0."),
      vitals={"sbp": (152, 178), "dbp": (84, 100), "hr": (70, 92)},
      variants=({"side": "left", "opp": "right", "cortical": "expressive aphasia",
                 "complaint": "trouble speaking"},
                {"side": "right", "opp": "left", "cortical": "neglect of the left side",
                 "complaint": "unsteadiness"}),
      mimics=("{He} has type 1 diabetes and took insulin this morning.",
              "{He} complains of a mild headache."),
      distractors=("{He} had a migraine with visual aura last month.",
                   "{He} had a cold with fever last week."),
      lookalikes=("hypoglycemia", "sah", "hhs", "meningitis"),
      step="IV alteplase",
      step_context="Noncontrast head CT shows no hemorrhage. {He} takes no anticoagulants and "
                   "has had no recent surgery, bleeding or head trauma.",
      step_distractors=("Oral aspirin", "MRI of the brain", "Lumbar puncture",
                        "IV heparin infusion")),
    C("sah", "Subarachnoid hemorrhage",
      ("SAH", "aneurysmal subarachnoid hemorrhage", "ruptured cerebral aneurysm",
       "ruptured berry aneurysm", "ruptured aneurysm", "aneurysmal SAH",
       "subarachnoid haemorrhage", "hemorrhagic stroke"),
      "neurology", (30, 70), (18, 100),
      presentations=(
          "a sudden, severe headache that peaked within seconds while {he} was lifting "
          "weights; {he} calls it the worst headache of {his} life",
          "an explosive occipital headache that began {2-5} hours ago, followed by vomiting "
          "and neck pain"),
      history=("hypertension and a pack-a-day smoking habit",
               "autosomal dominant polycystic kidney disease", "hypertension"),
      key_signs=(("neck stiffness", "meningismus"),),
      signs=("no focal neurological deficit", "photophobia", "is:drowsy but oriented"),
      key_tests=(),
      tests=("Fingerstick glucose {96-130} mg/dL.", "Platelets and INR normal."),
      vitals={"t": (36.6, 37.2), "sbp": (150, 176), "dbp": (86, 100), "hr": (62, 88)},
      atypical=("a sudden severe headache {1-2} days ago that has persisted, with neck pain",),
      mimics=("{He} has a history of migraine, but this headache is different.",
              "{He} vomited twice and feels feverish."),
      distractors=("{He} had a cold last week.", "{He} has been stressed at work."),
      lookalikes=("meningitis", "stroke", "co_poisoning", "hypoglycemia"),
      step="Noncontrast CT of the head",
      step_distractors=("Lumbar puncture", "Subcutaneous sumatriptan", "IV alteplase", "EEG")),
    C("meningitis", "Bacterial meningitis",
      ("meningitis", "acute bacterial meningitis", "pneumococcal meningitis",
       "meningococcal meningitis", "bacterial meningitis"),
      "neurology", (18, 70), (0, 100),
      presentations=(
          "{1-2} days of fever, severe headache and a stiff neck, now increasingly confused",
          "high fever, headache, vomiting and sensitivity to light since yesterday"),
      history=("no medical history", "type 2 diabetes"),
      context=("Y:{He} is a college student living in a dormitory.",
               "{He} had an ear infection last week."),
      key_signs=(("nuchal rigidity with a positive Brudzinski sign",
                  "neck stiffness with a positive Kernig sign"),),
      signs=("is:disoriented to time", "photophobia", "no rash"),
      key_tests=(),
      tests=("WBC {17,000-26,000}/mm3 with a left shift.", "Fingerstick glucose {95-130} mg/dL.",
             "CRP {140-260} mg/L."),
      vitals={"t": (38.8, 40.1), "hr": (108, 124), "sbp": (102, 126), "dbp": (60, 76),
              "rr": (18, 24)},
      mimics=("{He} says it is the worst headache of {his} life.",
              "exam:a faint petechial rash on the legs"),
      distractors=("{He} has a history of migraines.",
                   "{He} has been under stress preparing for exams."),
      lookalikes=("sah", "stroke", "co_poisoning", "hypoglycemia"),
      step="Empiric IV antibiotics",
      step_context="Blood cultures have been drawn. Fundoscopy shows bilateral papilledema.",
      step_distractors=("Lumbar puncture", "IV alteplase", "Subcutaneous sumatriptan", "EEG")),
    C("gbs", "Guillain-Barré syndrome",
      ("Guillain-Barre syndrome", "GBS", "acute inflammatory demyelinating polyneuropathy",
       "AIDP", "Guillain Barre", "Guillain-Barre"),
      "neurology", (20, 65), (5, 100),
      presentations=(
          "{3-6} days of tingling in {his} feet followed by progressive weakness of both "
          "legs; stairs are now difficult",
          "ascending leg weakness and numbness over {4-6} days; today {he} could not stand up "
          "from a chair"),
      context=("{He} had diarrhea {2-3} weeks ago.", "{He} had a flu-like illness {2-3} weeks "
                                                     "ago."),
      key_signs=(("symmetric weakness of the legs (3/5) more than the arms (4/5)",
                  "symmetric leg weakness (3/5) and mild arm weakness"),
                 ("absent patellar and ankle reflexes", "areflexia")),
      signs=("flexor plantar responses", "no sensory level", "mild distal sensory loss"),
      key_tests=(("Lumbar puncture: protein {110-240} mg/dL, WBC {1-4}/mm3.",
                  "CSF: protein {120-220} mg/dL with {0-3} cells/mm3."),),
      tests=("Potassium {3.8-4.6} mEq/L.", "CK {90-160} U/L."),
      vitals={"hr": (84, 104)},
      mimics=("{He} has aching low back pain.",),
      distractors=("{He} had a flu shot {4-6} months ago.",
                   "{He} works on a farm and handles pesticides."),
      lookalikes=("stroke", "hyperkalemia", "organophosphate"),
      step="IVIG",
      step_question="What is the most appropriate treatment?",
      step_context="Forced vital capacity is {2.6-3.2} L and stable; {he} can no longer walk "
                   "without help.",
      step_distractors=("IV methylprednisolone", "Oral pyridostigmine", "IV alteplase",
                        "Empiric IV antibiotics")),
    # --- infection / vascular ----------------------------------------------------------------
    C("cellulitis", "Cellulitis",
      ("nonpurulent cellulitis", "lower-extremity cellulitis", "bacterial cellulitis",
       "streptococcal cellulitis", "leg cellulitis"),
      "infectious disease", (25, 80), (5, 100),
      presentations=(
          "{2-3} days of a red, warm, painful area on {his} {side} lower leg that is slowly "
          "spreading",
          "a spreading red patch on the {side} shin for {2-4} days"),
      history=("type 2 diabetes and athlete's foot",
               "obesity and chronic venous insufficiency"),
      context=("{He} scraped {his} {side} shin while gardening {3-5} days ago.",),
      key_signs=(("a {8-15} x {6-10} cm area of warm, tender erythema with indistinct borders "
                  "on the {side} shin",
                  "warm, tender, poorly demarcated erythema over the {side} lower leg"),
                 ("no fluctuance or pus", "no fluctuance")),
      signs=("scaling between the toes", "no crepitus", "a soft, nontender calf",
             "pain in proportion to the findings"),
      key_tests=(),
      tests=("WBC {9,800-12,500}/mm3.",),
      vitals={"t": (36.9, 37.6), "hr": (78, 94)},
      variants=SIDES,
      mimics=("exam:mild ankle swelling on the {side}",),
      distractors=("{He} took a 6-hour car trip last month.",
                   "{His} neighbour was recently hospitalized with a 'flesh-eating' "
                   "infection."),
      lookalikes=("dvt", "nec_fasc", "gout", "septic_arthritis"),
      step="Oral cephalexin",
      step_question="What is the most appropriate treatment?",
      step_context="{He} looks well and can take oral medication.",
      step_distractors=("Incision and drainage", "Emergent surgical debridement",
                        "IV vancomycin plus piperacillin-tazobactam", "Apixaban")),
    C("nec_fasc", "Necrotizing fasciitis",
      ("nec fasc", "necrotizing soft tissue infection", "NSTI", "necrotising fasciitis",
       "flesh-eating infection", "necrotizing infection"),
      "infectious disease", (35, 75), (16, 100),
      presentations=(
          "{1-2} days of rapidly worsening pain and swelling in {his} {side} {limb} after a "
          "minor scrape",
          "severe, escalating pain in the {side} {limb} since yesterday"),
      history=("poorly controlled type 2 diabetes (HbA1c {9.5-12.0}%)",
               "a history of injection drug use",
               "type 2 diabetes and alcohol use disorder"),
      key_signs=(("pain out of proportion to the mild redness, with tenderness beyond the red "
                  "area",
                  "severe pain and woody induration extending beyond the faint erythema"),
                 ("crepitus", "dusky, violaceous skin with bullae")),
      signs=("decreased sensation over the center of the area", "tense edema"),
      key_tests=(("WBC {19,000-28,000}/mm3, sodium {127-132} mEq/L, creatinine {1.6-2.3} "
                  "mg/dL.",),),
      tests=("CRP {180-290} mg/L.", "CK {800-2,400} U/L."),
      vitals={"t": (38.6, 39.6), "hr": (116, 132), "sbp": (88, 102), "dbp": (50, 62),
              "rr": (20, 26)},
      variants=({"side": "left", "limb": "thigh"}, {"side": "right", "limb": "thigh"},
                {"side": "left", "limb": "forearm"}, {"side": "right", "limb": "forearm"}),
      mimics=("exam:warm, blanching erythema at the edge",),
      distractors=("{He} had a deep vein thrombosis {4-6} years ago.",),
      lookalikes=("cellulitis", "dvt", "septic_arthritis", "limb_ischemia"),
      step="Emergent surgical debridement",
      step_context="Blood cultures are drawn and IV vancomycin, piperacillin-tazobactam and "
                   "clindamycin are started.",
      step_distractors=("Oral cephalexin", "Incision and drainage", "Compression ultrasound",
                        "Hyperbaric oxygen therapy")),
    C("dvt", "Deep vein thrombosis",
      ("DVT", "proximal DVT", "deep venous thrombosis", "femoral vein thrombosis",
       "popliteal vein thrombosis", "proximal deep vein thrombosis", "leg DVT"),
      "vascular", (30, 80), (16, 100),
      presentations=(
          "{2-4} days of swelling and aching of {his} {side} calf",
          "a swollen, heavy {side} leg for {3-5} days"),
      context=("{He} had a hip replacement {2-3} weeks ago.",
               "{He} is receiving chemotherapy for colon cancer.",
               "W:{He} takes a combined oral contraceptive.",
               "{He} drove {9-12} hours to a family event {4-7} days ago."),
      key_signs=(("{side} calf circumference {3-5} cm greater than the {opp}",
                  "pitting edema of the {side} leg with tenderness along the deep veins"),),
      signs=("no skin breaks", "mild warmth without sharply demarcated redness",
             "lungs clear", "no crepitus"),
      key_tests=(),
      tests=("D-dimer {1,100-3,500} ng/mL FEU.",),
      vitals={"t": (36.8, 37.5), "hr": (78, 96)},
      variants=SIDES,
      mimics=("exam:mild erythema and warmth over the calf",
              "{He} had a small cut on that foot last week, now healed."),
      distractors=("{He} played tennis over the weekend and thinks {he} pulled a muscle.",),
      lookalikes=("cellulitis", "nec_fasc", "limb_ischemia"),
      step="Compression ultrasound",
      step_context="{He} has no shortness of breath or chest pain.",
      step_distractors=("CT pulmonary angiography", "Oral cephalexin", "Contrast venography",
                        "Emergent surgical debridement", "IV alteplase")),
    C("limb_ischemia", "Acute limb ischemia",
      ("acute arterial occlusion", "arterial embolism", "acute arterial embolism",
       "embolic arterial occlusion", "acute leg ischemia", "ALI", "femoral artery embolism",
       "popliteal artery embolism", "peripheral arterial embolism", "acute limb ischaemia"),
      "vascular", (60, 88), (40, 100),
      presentations=(
          "sudden pain, numbness and coldness of the {side} leg that began {2-5} hours ago",
          "abrupt, severe pain in the {side} foot and calf that began {2-4} hours ago, now with "
          "tingling"),
      history=("atrial fibrillation; {he} stopped warfarin {2-4} weeks ago",
               "atrial fibrillation; {he} takes no anticoagulant",
               "a large anterior MI {3-6} weeks ago"),
      key_signs=(("a cold, pale {side} foot with absent popliteal and pedal pulses",
                  "a pale, cool {side} leg with no palpable pulses below the groin"),
                 ("mildly reduced light touch on the {side} toes with normal toe movement",
                  "decreased sensation over the {side} foot; toe movement is preserved")),
      signs=("normal pulses in the {opp} leg", "no calf swelling", "an irregularly irregular "
                                                                   "pulse"),
      key_tests=(("Handheld Doppler: no arterial signal at the {side} ankle; venous signal "
                  "present.",),),
      tests=("ECG: atrial fibrillation, rate {88-110}/min.", "Creatinine {0.9-1.2} mg/dL.",
             "CK {150-400} U/L."),
      vitals={"hr": (88, 110), "sbp": (130, 160), "dbp": (72, 90)},
      atypical=("sudden numbness and heaviness of the {side} foot with only mild pain, "
                "beginning {3-6} hours ago",),
      mimics=("exam:mild swelling of the {side} calf",),
      distractors=("{He} returned from a {9-12}-hour flight last week.",
                   "{He} twisted the {side} ankle stepping off a curb {2-3} days ago."),
      lookalikes=("dvt", "nec_fasc", "cellulitis"),
      step="IV heparin infusion",
      step_question="What is the most appropriate initial step in management?",
      step_context="{He} has no history of bleeding or recent surgery. A vascular surgeon has "
                   "been called.",
      step_distractors=("Compression ultrasound", "Oral cephalexin", "Oral aspirin",
                        "Emergent surgical debridement")),
    C("septic_arthritis", "Septic arthritis",
      ("bacterial arthritis", "infectious arthritis", "septic joint", "septic knee",
       "pyogenic arthritis", "joint infection", "septic arthritis of the knee"),
      "infectious disease", (25, 80), (0, 100),
      presentations=(
          "{2-3} days of a hot, swollen, painful {side} knee; {he} cannot bear weight",
          "a red, swollen {side} knee that has become very painful over {1-3} days, with "
          "fevers"),
      history=("rheumatoid arthritis on methotrexate", "type 2 diabetes",
               "a history of injection drug use"),
      key_signs=(("a warm, swollen {side} knee with a large effusion",
                  "a hot {side} knee with a tense effusion"),
                 ("severe pain with any passive movement of the knee",
                  "pain on minimal passive range of motion")),
      signs=("mild erythema over the joint", "no skin breaks", "no calf tenderness",
             "no other joints involved"),
      key_tests=(),
      tests=("WBC {12,500-17,000}/mm3.", "CRP {90-210} mg/L.",
             "X-ray of the knee: joint effusion, no fracture."),
      vitals={"t": (38.3, 39.2), "hr": (96, 112)},
      variants=SIDES,
      mimics=("{He} had a painful swollen big toe last year that settled in a week.",
              "test:Uric acid {7.8-9.4} mg/dL."),
      distractors=("{He} twisted the knee playing with {his} grandchildren last week.",),
      lookalikes=("gout", "cellulitis", "dvt", "nec_fasc"),
      step="Arthrocentesis",
      step_distractors=("Intra-articular corticosteroid injection", "Oral colchicine",
                        "MRI of the knee", "Oral cephalexin")),
    C("gout", "Acute gout flare",
      ("gout", "gouty arthritis", "acute gout", "acute gouty arthritis", "podagra",
       "gout attack", "gout flare", "acute gout attack", "crystal arthritis"),
      "musculoskeletal", (45, 75), (20, 100),
      presentations=(
          "sudden, severe pain, redness and swelling of the {side} big toe that woke {him} at "
          "night",
          "an exquisitely painful, swollen {side} big toe since last night; even the bedsheet "
          "hurts"),
      history=("hypertension treated with hydrochlorothiazide", "obesity and hypertension",
               "chronic kidney disease stage 3"),
      context=("{He} drank heavily at a party the night before.",
               "{He} had a large steak dinner with several beers last night."),
      key_signs=(("a hot, red, swollen, exquisitely tender {side} first metatarsophalangeal "
                  "joint",
                  "marked swelling, warmth and tenderness of the {side} first MTP joint"),),
      signs=("no skin breaks", "no other joints involved", "normal pedal pulses"),
      key_tests=(),
      tests=("WBC {9,500-12,000}/mm3.", "Creatinine {0.9-1.4} mg/dL."),
      dx_tests=("Uric acid {7.6-9.8} mg/dL.",),
      vitals={"t": (37.1, 37.8)},
      variants=SIDES,
      mimics=("exam:erythema spreading onto the dorsum of the foot",
              "test:WBC {12,500-14,000}/mm3."),
      distractors=("{He} stubbed the toe {3-5} days ago.",),
      lookalikes=("septic_arthritis", "cellulitis", "dvt", "nec_fasc"),
      step="Arthrocentesis",
      step_question="What is the most appropriate next step in diagnosis?",
      step_distractors=("Serum uric acid level", "MRI of the foot", "Compression ultrasound",
                        "Antinuclear antibody test")),
    # --- endocrine ---------------------------------------------------------------------------
    C("dka", "Diabetic ketoacidosis",
      ("DKA", "ketoacidosis", "diabetic ketoacidosis"),
      "endocrine", (10, 40), (5, 70),
      presentations=(
          "{1-2} days of nausea, vomiting, diffuse abdominal pain and increasing drowsiness",
          "{2-3} days of frequent urination, thirst and abdominal pain, now vomiting"),
      history=("type 1 diabetes; {he} ran out of insulin {3-5} days ago",
               "type 1 diabetes; {he} skipped insulin during a stomach bug",
               "no prior medical problems; {he} has lost {3-6} kg over the past month and is "
               "always thirsty"),
      key_signs=(("deep, rapid breathing with a fruity odor on the breath",
                  "Kussmaul respirations"),),
      signs=("dry mucous membranes", "diffuse mild abdominal tenderness without guarding",
             "is:drowsy but rousable"),
      key_tests=(("Glucose {glu} mg/dL, sodium {na} mEq/L, chloride {cl} mEq/L, bicarbonate "
                  "{hco3} mEq/L.",),
                 ("Venous pH {ph}; serum beta-hydroxybutyrate {5.8-9.4} mmol/L.",
                  "Venous pH {ph}; urine ketones 3+.")),
      tests=("Potassium {k} mEq/L.",),
      vitals={"t": (36.8, 37.6), "hr": (112, 128), "sbp": (96, 112), "dbp": (54, 68),
              "rr": (26, 32)},
      compute=_dka,
      mimics=("exam:right lower quadrant tenderness", "test:WBC {14,000-19,000}/mm3."),
      distractors=("{He} ate at a new restaurant two days ago.",
                   "{His} roommate says {he} took some aspirin for a headache yesterday."),
      lookalikes=("hhs", "salicylate", "appendicitis", "gastroenteritis", "pancreatitis"),
      step="IV fluid resuscitation",
      step_question="What is the most appropriate initial step in management?",
      step_distractors=("IV sodium bicarbonate", "Subcutaneous insulin glargine",
                        "IV loop diuretic", "IV dextrose")),
    C("hhs", "Hyperosmolar hyperglycemic state",
      ("HHS", "hyperosmolar hyperglycemic nonketotic state", "HHNK",
       "hyperosmolar nonketotic coma", "hyperglycemic hyperosmolar state",
       "nonketotic hyperosmolar state", "hyperosmolar hyperglycaemic state"),
      "endocrine", (60, 88), (35, 100),
      presentations=(
          "{4-7} days of increasing thirst, frequent urination and weakness, now confused",
          "progressive lethargy and confusion over {3-5} days; {his} daughter says {he} has "
          "been drinking little and urinating a lot"),
      history=("type 2 diabetes on metformin", "type 2 diabetes; {he} lives alone"),
      context=("{He} was started on prednisone for gout {1-2} weeks ago.",
               "{He} has had burning urination for a week."),
      key_signs=(("dry mucous membranes and poor skin turgor",),
                 ("is:lethargic and disoriented",)),
      signs=("no Kussmaul breathing", "a soft, nontender abdomen"),
      key_tests=(("Glucose {glu} mg/dL, sodium {na} mEq/L, bicarbonate {hco3} mEq/L.",),
                 ("Serum osmolality {osm} mOsm/kg; urine ketones trace.",)),
      tests=("BUN {bun} mg/dL, creatinine {1.8-2.6} mg/dL.", "Venous pH {7.33-7.38}."),
      vitals={"t": (37.0, 37.8), "hr": (104, 120), "sbp": (94, 110), "dbp": (52, 66),
              "rr": (18, 22)},
      compute=_hhs,
      mimics=("exam:a mild {side}-sided pronator drift",),
      distractors=("{He} had a fall last month without head injury.",
                   "{He} takes zolpidem for sleep."),
      variants=SIDES,
      lookalikes=("dka", "stroke", "hypoglycemia", "meningitis"),
      step="IV fluid resuscitation",
      step_question="What is the most appropriate initial step in management?",
      step_distractors=("IV sodium bicarbonate", "Subcutaneous insulin glargine",
                        "IV loop diuretic", "IV dextrose")),
    C("hypoglycemia", "Hypoglycemia",
      ("insulin-induced hypoglycemia", "low blood sugar", "sulfonylurea-induced hypoglycemia",
       "hypoglycaemia", "low blood glucose", "hypoglycemic episode"),
      "endocrine", (20, 85), (5, 100), mode="found",
      presentations=(
          "being found confused and sweaty by {his} {partner} this morning",
          "being found slumped and mumbling at {his} desk by a coworker"),
      history=("type 1 diabetes on an insulin pump",
               "type 2 diabetes on glipizide; {he} has eaten little during a stomach bug",
               "type 1 diabetes; {he} took {his} usual insulin but skipped dinner"),
      key_signs=(("is:diaphoretic, tremulous and confused", "is:confused and drenched in sweat"),),
      signs=("no neck stiffness", "pupils equal and reactive", "slurred speech"),
      key_tests=(("Fingerstick glucose {28-46} mg/dL.",),),
      vitals={"t": (36.2, 36.9), "hr": (96, 118), "sbp": (130, 156), "dbp": (72, 90)},
      variants=SIDES,
      mimics=("exam:mild {opp}-sided weakness",),
      distractors=("{He} drank two glasses of wine last night.",
                   "{He} had a migraine yesterday."),
      lookalikes=("stroke", "opioid", "hhs", "meningitis"),
      step="IV dextrose",
      step_context="An IV line is in place; {he} cannot swallow safely.",
      step_distractors=("Noncontrast CT of the head", "IV alteplase", "IV naloxone",
                        "Oral glucose gel")),
    C("thyroid_storm", "Thyroid storm",
      ("thyrotoxic crisis", "thyrotoxic storm", "thyroid crisis", "thyrotoxicosis crisis",
       "decompensated thyrotoxicosis"),
      "endocrine", (20, 60), (14, 100),
      presentations=(
          "{1-2} days of fever, agitation, palpitations and diarrhea",
          "high fever, vomiting, palpitations and confusion since yesterday"),
      history=("Graves disease; {he} stopped methimazole {2-3} months ago",
               "unexplained weight loss and heat intolerance for months"),
      context=("{He} has had a cough and sore throat for {3-4} days.",),
      key_signs=(("fine tremor, warm moist skin and a diffusely enlarged, nontender goiter",
                  "a smooth diffuse goiter with a bruit and a fine tremor"),),
      signs=("lid lag", "proptosis", "is:agitated and restless"),
      key_tests=(("TSH <0.01 mIU/L, free T4 {4.8-7.5} ng/dL.",),),
      tests=("ECG: atrial fibrillation with a rapid ventricular response.",
             "AST {55-90} U/L."),
      vitals={"t": (39.4, 40.5), "hr": (140, 165), "sbp": (150, 170), "dbp": (58, 72),
              "rr": (22, 28)},
      mimics=("{He} says {he} used cocaine at a party {2-3} weeks ago.",),
      distractors=("{He} started running {3-4} days a week.",
                   "{His} sibling had the flu recently."),
      lookalikes=("salicylate", "meningitis", "adrenal_crisis", "pe"),
      step="Propranolol",
      step_question="Which drug should be given first to control {his} adrenergic symptoms?",
      step_distractors=("Potassium iodide", "Radioactive iodine ablation", "Oral aspirin",
                        "Levothyroxine")),
    C("adrenal_crisis", "Adrenal crisis",
      ("acute adrenal insufficiency", "Addisonian crisis", "adrenal insufficiency",
       "acute adrenal crisis", "Addison crisis"),
      "endocrine", (25, 75), (10, 100),
      presentations=(
          "profound weakness, vomiting, abdominal pain and lightheadedness",
          "{1-2} days of vomiting, diffuse abdominal pain and confusion"),
      history=("{ai_hx}",),
      key_signs=(("dry mucous membranes",), ("{ai_sign}",)),
      signs=("diffuse mild abdominal tenderness without rebound",),
      key_tests=(("{ai_labs}",),),
      vitals={"t": (37.6, 38.3), "hr": (112, 128), "sbp": (72, 86), "dbp": (40, 52),
              "rr": (18, 24)},
      variants=({"ai_hx": "autoimmune adrenalitis on daily steroid replacement; {he} has been "
                          "vomiting and unable to keep {his} tablets down",
                 "ai_sign": "hyperpigmented palmar creases and buccal mucosa",
                 "ai_labs": "Sodium {124-129} mEq/L, potassium {5.4-6.1} mEq/L, glucose "
                            "{52-66} mg/dL."},
                {"ai_hx": "rheumatoid arthritis treated with prednisone 20 mg daily for years, "
                          "which {he} stopped abruptly {4-7} days ago",
                 "ai_sign": "cushingoid facies",
                 "ai_labs": "Sodium {127-131} mEq/L, potassium {4.0-4.6} mEq/L, glucose "
                            "{54-66} mg/dL."}),
      mimics=("exam:diffuse abdominal tenderness with mild guarding",),
      distractors=("{He} ate at a buffet the day before the vomiting began.",),
      lookalikes=("dka", "hypoglycemia", "thyroid_storm", "gastroenteritis", "hyperkalemia"),
      step="IV hydrocortisone",
      step_context="{He} has received 2 L of IV saline and remains hypotensive.",
      step_distractors=("Cosyntropin stimulation test", "IV sodium bicarbonate",
                        "CT abdomen with contrast", "IV calcium gluconate")),
    # --- renal / urology -------------------------------------------------------------------
    C("ureteral_stone", "Ureteral stone",
      ("nephrolithiasis", "ureterolithiasis", "kidney stone", "renal colic", "urolithiasis",
       "ureteric stone", "renal calculus", "obstructing ureteral stone", "urinary stone",
       "distal ureteral stone", "ureteral calculus"),
      "renal and urology", (25, 60), (12, 100),
      presentations=(
          "sudden, severe colicky {side} flank pain radiating to the groin that began "
          "{2-6} hours ago, with nausea",
          "waves of excruciating {side} flank pain since this morning; {he} cannot lie still"),
      history=("gout", "Crohn disease", "primary hyperparathyroidism"),
      key_signs=(("is:writhing and unable to find a comfortable position",
                  "is:restless, pacing the room"),),
      signs=("{side} costovertebral angle tenderness", "a soft, nontender abdomen"),
      key_tests=(("Urinalysis: {20-50} RBC/hpf, no leukocyte esterase or nitrites.",),),
      tests=("Creatinine {0.8-1.1} mg/dL.", "W:Urine beta-hCG negative.",
             "WBC {7,200-9,800}/mm3."),
      vitals={"t": (36.7, 37.3), "hr": (96, 110), "sbp": (140, 160), "dbp": (84, 96)},
      variants=SIDES,
      mimics=("exam:mild tenderness in the {side} lower quadrant",),
      distractors=("{He} has mild back pain from lifting at work.",
                   "{His} colleague has had the stomach flu."),
      lookalikes=("appendicitis", "pyelonephritis", "aortic_dissection", "ectopic",
                  "ovarian_torsion", "testicular_torsion", "mesenteric_ischemia"),
      step="Tamsulosin",
      step_question="Along with analgesia, what is the most appropriate management?",
      step_context="Noncontrast CT shows a {6-8}-mm stone in the distal {side} ureter with mild "
                   "hydronephrosis. {He} is afebrile and the pain is controlled.",
      step_distractors=("Percutaneous nephrostomy", "IV ceftriaxone",
                        "Open surgical stone removal", "Appendectomy")),
    C("pyelonephritis", "Acute pyelonephritis",
      ("pyelonephritis", "pyelo", "upper urinary tract infection", "kidney infection",
       "upper UTI", "acute pyelonephritis"),
      "renal and urology", (18, 60), (0, 100),
      presentations=(
          "{2-3} days of fever, chills, {side} flank pain and nausea, preceded by painful "
          "urination and frequency",
          "fever, rigors and {side} back pain for {1-2} days after a week of burning "
          "urination"),
      history=("F:recurrent cystitis", "type 2 diabetes", "no medical history"),
      key_signs=(("{side} costovertebral angle tenderness",),),
      signs=("mild suprapubic tenderness", "a soft abdomen without peritoneal signs"),
      key_tests=(("Urinalysis: positive leukocyte esterase and nitrites, >50 WBC/hpf and "
                  "WBC casts.",
                  "Urinalysis: pyuria, bacteriuria and white cell casts."),),
      tests=("WBC {13,500-18,000}/mm3.", "W:Urine beta-hCG negative.",
             "Creatinine {0.7-1.0} mg/dL."),
      vitals={"t": (38.6, 39.6), "hr": (100, 116), "sbp": (112, 132), "dbp": (66, 80)},
      variants=SIDES,
      mimics=("exam:mild right lower quadrant tenderness", "{He} had colicky pain at first."),
      distractors=("{He} has a history of kidney stones.",),
      lookalikes=("ureteral_stone", "appendicitis", "pid", "cholecystitis", "ectopic"),
      step="IV ceftriaxone",
      step_question="What is the most appropriate management?",
      step_context="{He} is vomiting and cannot keep down oral medication.",
      step_distractors=("Oral nitrofurantoin", "Tamsulosin", "Percutaneous nephrostomy",
                        "Appendectomy")),
    C("hyperkalemia", "Hyperkalemia",
      ("severe hyperkalemia", "hyperkalaemia", "high potassium"),
      "renal and urology", (50, 85), (18, 100),
      presentations=(
          "generalized weakness and palpitations for {1-2} days",
          "progressive muscle weakness and nausea since yesterday"),
      history=("chronic kidney disease stage 4; {he} takes lisinopril and spironolactone",
               "end-stage kidney disease on hemodialysis; {he} missed the last two sessions",
               "type 2 diabetes and chronic kidney disease; {he} recently started "
               "trimethoprim-sulfamethoxazole for a UTI"),
      key_signs=(("symmetric proximal muscle weakness (4/5)", "diffuse muscle weakness"),),
      signs=("depressed reflexes", "clear lungs", "no edema"),
      key_tests=(("ECG: peaked T waves, a widened QRS of {130-150} ms and flattened P waves.",
                  "ECG: tall peaked T waves, absent P waves and QRS widening to {130-150} "
                  "ms."),),
      tests=("Glucose {100-140} mg/dL.",),
      vitals={"hr": (46, 62), "sbp": (118, 148), "dbp": (70, 88)},
      mimics=("{He} has had some nausea and vomiting.",),
      distractors=("{He} had chest pain last year; a stress test was normal.",),
      lookalikes=("stemi", "adrenal_crisis", "gbs", "dka"),
      step="IV calcium gluconate",
      step_context="Serum potassium is {6.9-7.8} mEq/L.",
      step_distractors=("Sodium polystyrene sulfonate", "IV loop diuretic",
                        "Repeat potassium measurement", "Emergent cardiac catheterization")),
    C("testicular_torsion", "Testicular torsion",
      ("torsion of the testis", "spermatic cord torsion", "torsion", "testicular twist"),
      "renal and urology", (12, 25), (5, 35), sex="M",
      presentations=(
          "sudden severe {side} scrotal pain that woke {him} from sleep {2-4} hours ago, with "
          "vomiting",
          "abrupt {side} testicular pain that began during basketball practice {1-3} hours "
          "ago, with nausea"),
      context=("{He} had a similar brief episode a month ago that resolved on its own.",),
      key_signs=(("a high-riding, horizontally lying {side} testis",),
                 ("an absent {side} cremasteric reflex",)),
      signs=("an exquisitely tender, swollen {side} testis",
             "no relief of pain when the testis is lifted"),
      key_tests=(),
      tests=("Urinalysis: normal.",),
      vitals={"hr": (96, 112)},
      variants=SIDES,
      mimics=("{He} also has lower abdominal pain.",),
      distractors=("{He} says {he} has a new sexual partner.",
                   "{He} was hit in the groin during practice last week."),
      lookalikes=("epididymitis", "ureteral_stone", "appendicitis"),
      step="Emergent surgical exploration",
      step_context="A urologist is available now.",
      step_distractors=("Ceftriaxone plus doxycycline", "Scrotal elevation and NSAIDs",
                        "Tamsulosin", "Appendectomy")),
    C("epididymitis", "Acute epididymitis",
      ("epididymitis", "epididymo-orchitis", "acute epididymo-orchitis",
       "chlamydial epididymitis", "gonococcal epididymitis"),
      "renal and urology", (18, 34), (14, 100), sex="M",
      presentations=(
          "{2-4} days of gradually worsening {side} scrotal pain and swelling, with burning "
          "on urination",
          "a dull ache in the {side} testicle that has increased over {3-5} days, with a "
          "urethral discharge"),
      history=("a new sexual partner", "several sexual partners and inconsistent condom use"),
      key_signs=(("a tender, swollen {side} epididymis behind a normally positioned testis",
                  "tenderness and induration of the {side} epididymis; the testis lies "
                  "normally"),
                 ("a present cremasteric reflex",)),
      signs=("urethral discharge", "less pain when the testis is lifted", "no hernia"),
      key_tests=(("Urinalysis: positive leukocyte esterase, {10-30} WBC/hpf.",
                  "First-void urine: pyuria with {12-35} WBC/hpf."),),
      vitals={"t": (37.6, 38.4), "hr": (86, 100)},
      variants=SIDES,
      mimics=("{He} vomited once.", "{He} also has mild lower abdominal pain."),
      distractors=("{He} lifted heavy boxes at work last week.",),
      lookalikes=("testicular_torsion", "ureteral_stone", "pyelonephritis", "appendicitis"),
      step="Ceftriaxone plus doxycycline",
      step_question="What is the most appropriate treatment?",
      step_context="Doppler ultrasound shows increased blood flow to the {side} epididymis.",
      step_distractors=("Emergent surgical exploration", "Tamsulosin", "Oral fluconazole",
                        "Oral metronidazole alone")),
    # --- obstetrics / gynaecology ----------------------------------------------------------
    C("ectopic", "Ectopic pregnancy",
      ("tubal pregnancy", "ectopic", "ruptured ectopic pregnancy", "tubal ectopic pregnancy",
       "extrauterine pregnancy"),
      "obstetrics and gynecology", (18, 40), (14, 48), sex="F",
      presentations=(
          "{side} lower abdominal pain and light vaginal spotting; {his} last menstrual period "
          "was {6-8} weeks ago",
          "{side} pelvic pain and dizziness; {his} period is {2-3} weeks late"),
      history=("a history of chlamydia", "prior tubal surgery", "pelvic inflammatory disease "
                                                                "{2-4} years ago"),
      key_signs=(("{side} adnexal tenderness",),),
      signs=("a closed cervical os", "a small amount of blood in the vaginal vault",
             "mild {side} lower quadrant tenderness"),
      key_tests=(("Urine hCG positive; serum beta-hCG {2,400-5,800} mIU/mL.",),),
      tests=("Hemoglobin {11.8-13.2} g/dL.", "Blood type O, Rh positive."),
      vitals={"hr": (88, 104), "sbp": (108, 124), "dbp": (64, 78)},
      variants=SIDES,
      mimics=("exam:cervical motion tenderness", "{He} has had mild burning on urination."),
      distractors=("{He} uses condoms and is sure {he} cannot be pregnant.",
                   "{He} had a kidney stone last year."),
      lookalikes=("appendicitis", "ovarian_torsion", "pid", "ureteral_stone",
                  "pyelonephritis"),
      step="Transvaginal ultrasound",
      step_context="{He} is hemodynamically stable.",
      step_distractors=("CT abdomen with contrast", "IM methotrexate",
                        "Repeat beta-hCG in 1 week", "Appendectomy")),
    C("ovarian_torsion", "Ovarian torsion",
      ("adnexal torsion", "torsion of the ovary", "ovarian torsion", "torsion",
       "adnexal twist"),
      "obstetrics and gynecology", (15, 40), (5, 60), sex="F",
      presentations=(
          "sudden, severe {side} lower abdominal pain that began during exercise {2-5} hours "
          "ago, with repeated vomiting",
          "abrupt {side} pelvic pain since this morning that comes in waves and is now "
          "constant, with nausea"),
      history=("a known {5-8}-cm {side} ovarian cyst",),
      context=("{He} underwent ovarian stimulation for IVF last month.",),
      key_signs=(("a tender {side} adnexal mass",),),
      signs=("no cervical motion tenderness", "no vaginal bleeding",
             "{side} lower quadrant tenderness without rebound"),
      key_tests=(("Urine beta-hCG negative.",),),
      tests=("WBC {9,800-12,500}/mm3.", "Urinalysis: normal."),
      vitals={"t": (36.8, 37.6), "hr": (96, 112)},
      variants=SIDES,
      mimics=("test:WBC {13,000-15,000}/mm3.", "{He} had a low-grade fever last night."),
      distractors=("{He} has a new sexual partner.",
                   "{His} {sibling} had appendicitis last year."),
      lookalikes=("ectopic", "appendicitis", "pid", "ureteral_stone"),
      step="Pelvic ultrasound with Doppler",
      step_distractors=("IM methotrexate", "Ceftriaxone, doxycycline and metronidazole",
                        "Colonoscopy", "Discharge with oral analgesia")),
    C("pid", "Pelvic inflammatory disease",
      ("PID", "salpingitis", "acute salpingitis", "pelvic infection",
       "acute pelvic inflammatory disease"),
      "obstetrics and gynecology", (16, 35), (14, 50), sex="F",
      presentations=(
          "{3-5} days of lower abdominal pain, pain with intercourse and abnormal vaginal "
          "discharge",
          "bilateral lower abdominal pain that began a few days after {his} period, with "
          "fever and discharge"),
      history=("a new sexual partner", "several partners and inconsistent condom use"),
      key_signs=(("cervical motion tenderness with bilateral adnexal tenderness",
                  "uterine and bilateral adnexal tenderness with cervical motion "
                  "tenderness"),),
      signs=("mucopurulent cervical discharge", "no adnexal mass", "no rebound"),
      key_tests=(("Urine beta-hCG negative.",),),
      tests=("WBC {11,000-14,500}/mm3.", "Wet mount: numerous WBCs.",
             "Urinalysis: no nitrites."),
      vitals={"t": (38.0, 38.6), "hr": (90, 104)},
      mimics=("exam:right upper quadrant tenderness", "{He} has mild nausea."),
      distractors=("{He} had a kidney infection last year.",),
      lookalikes=("ectopic", "appendicitis", "ovarian_torsion", "pyelonephritis"),
      step="Ceftriaxone, doxycycline and metronidazole",
      step_question="What is the most appropriate treatment?",
      step_context="{He} tolerates oral intake, and pelvic ultrasound shows no adnexal mass.",
      step_distractors=("Appendectomy", "IM methotrexate", "Oral metronidazole alone",
                        "Oral fluconazole")),
    C("preeclampsia", "Preeclampsia with severe features",
      ("severe preeclampsia", "preeclampsia", "pre-eclampsia",
       "pre-eclampsia with severe features", "preeclampsia with severe features"),
      "obstetrics and gynecology", (18, 42), (14, 48), sex="F", mode="ob", pregnant=True,
      presentations=(
          "a severe headache for {6-12} hours and seeing spots",
          "a persistent headache, blurred vision and right upper quadrant pain since this "
          "morning"),
      history=("G1P0 at {34-37} weeks' gestation", "G2P1 at {34-37} weeks' gestation"),
      key_signs=(("3+ patellar reflexes", "brisk reflexes with 2 beats of clonus"),),
      signs=("bilateral hand and facial edema", "right upper quadrant tenderness",
             "a normal fetal heart rate tracing"),
      key_tests=(("Urine protein-to-creatinine ratio {0.6-1.8}.", "Urine dipstick protein "
                                                                   "2+."),),
      tests=("Platelets {95,000-140,000}/mm3.", "AST {85-160} U/L, ALT {90-170} U/L."),
      vitals={"sbp": (162, 178), "dbp": (108, 116), "hr": (82, 98)},
      mimics=("{He} has a history of migraine.",),
      distractors=("{His} sister had gallstones during pregnancy.",),
      lookalikes=("sah", "stroke", "cholecystitis", "pyelonephritis"),
      step="IV magnesium sulfate",
      step_context="IV labetalol has been given.",
      step_distractors=("IV phenytoin", "Noncontrast CT of the head",
                        "Subcutaneous sumatriptan", "IV loop diuretic")),
    # --- paediatrics -------------------------------------------------------------------------
    C("croup", "Croup",
      ("laryngotracheobronchitis", "viral croup", "acute laryngotracheitis",
       "laryngotracheitis", "viral laryngotracheobronchitis"),
      "pediatrics", (0.5, 4), (0.25, 6),
      presentations=(
          "a barking, seal-like cough and hoarse voice that worsened overnight",
          "noisy breathing and a harsh barking cough since last night"),
      context=("{He} has had a runny nose and low-grade fever for {2-3} days.",),
      key_signs=(("inspiratory stridor only when agitated, none at rest",
                  "stridor when crying but not at rest"),),
      signs=("mild suprasternal retractions", "no drooling", "is:playful between coughing spells",
             "a barking cough"),
      key_tests=(),
      dx_tests=("AP neck X-ray: subglottic narrowing (steeple sign).",),
      vitals={"t": (37.8, 38.5), "hr": (120, 140), "rr": (28, 36), "spo2": (96, 99)},
      mimics=("exam:scattered expiratory wheezes",),
      distractors=("{His} older brother has asthma.",
                   "{He} was playing with small toys yesterday."),
      lookalikes=("epiglottitis", "foreign_body", "bronchiolitis", "asthma", "pertussis"),
      step="Oral dexamethasone",
      step_question="What is the most appropriate treatment?",
      step_distractors=("IV ceftriaxone", "Rigid bronchoscopy",
                        "Intubation in the operating room", "Inhaled albuterol")),
    C("epiglottitis", "Acute epiglottitis",
      ("epiglottitis", "supraglottitis", "Haemophilus influenzae type b epiglottitis",
       "Hib epiglottitis", "acute supraglottitis"),
      "pediatrics", (2, 7), (1, 100),
      presentations=(
          "{6-12} hours of high fever, a very sore throat and drooling; {he} refuses to "
          "swallow",
          "abrupt high fever, a muffled voice and difficulty swallowing since this afternoon"),
      context=("{He} has had no vaccinations because of {his} parents' beliefs.",
               "{He} is unvaccinated."),
      key_signs=(("sitting upright, leaning forward with the neck extended, drooling",
                  "tripod position with drooling"),
                 ("soft inspiratory stridor without a barking cough",)),
      signs=("is:anxious and toxic-appearing", "a muffled voice"),
      key_tests=(),
      dx_tests=("Lateral neck X-ray: swollen epiglottis (thumbprint sign).",),
      vitals={"t": (39.2, 40.2), "hr": (140, 160), "rr": (30, 40), "spo2": (92, 96)},
      mimics=("{He} had a runny nose last week.",),
      distractors=("{He} was eating popcorn yesterday.",),
      lookalikes=("croup", "foreign_body", "bronchiolitis", "meningitis", "cap"),
      step="Intubation in the operating room",
      step_distractors=("Throat examination with a tongue depressor", "Oral dexamethasone",
                        "Rigid bronchoscopy", "Inhaled albuterol")),
    C("bronchiolitis", "Bronchiolitis",
      ("acute bronchiolitis", "RSV bronchiolitis", "viral bronchiolitis", "RSV infection"),
      "pediatrics", (2 / 12, 18 / 12), (0, 2),
      presentations=(
          "{2-4} days of runny nose and cough, now with fast breathing and wheezing",
          "increasing cough, congestion and noisy breathing for 3 days; {he} is feeding a "
          "little less than usual"),
      context=("{He} was born at term. An older sibling has a cold.",
               "{He} attends daycare, where several children are sick."),
      key_signs=(("diffuse fine crackles and expiratory wheezes bilaterally",
                  "bilateral wheezes and fine crackles"),),
      signs=("mild subcostal retractions", "nasal flaring", "copious clear nasal secretions",
             "moist mucous membranes"),
      key_tests=(),
      vitals={"t": (37.6, 38.3), "hr": (130, 150), "rr": (44, 56), "spo2": (93, 96)},
      mimics=("{He} had a brief coughing fit with a toy in {his} mouth last week.",),
      distractors=("{His} father has asthma.",),
      lookalikes=("croup", "foreign_body", "cap", "pertussis", "asthma"),
      step="Supportive care",
      step_question="What is the most appropriate management?",
      step_context="{He} is feeding adequately and has wet diapers.",
      step_distractors=("Inhaled albuterol", "Oral dexamethasone", "Chest X-ray",
                        "IV ceftriaxone alone", "Oral amoxicillin")),
    C("pertussis", "Pertussis",
      ("whooping cough", "Bordetella pertussis infection", "pertussis infection",
       "Bordetella pertussis"),
      "pediatrics", (1 / 12, 4 / 12), (0, 100),
      presentations=(
          "{1-2} weeks of a runny nose followed by bouts of intense coughing, after which {he} "
          "turns red and sometimes vomits",
          "coughing fits for {5-10} days, with episodes in which {he} briefly stops breathing "
          "and turns blue"),
      context=("{He} has not yet received any vaccines.",
               "An older sibling has had a cough for 3 weeks."),
      key_signs=(("is:well-appearing between coughing spells",),
                 ("clear lungs between episodes", "clear lungs without wheezes or crackles")),
      signs=("mild nasal congestion", "subconjunctival hemorrhages"),
      key_tests=(("WBC {22,000-38,000}/mm3 with {65-78}% lymphocytes.",),),
      vitals={"t": (36.8, 37.4), "hr": (130, 150), "rr": (36, 46), "spo2": (95, 98)},
      mimics=("{He} had a low-grade fever at the start.",
              "test:Chest X-ray: mild peribronchial thickening."),
      distractors=("{His} father has asthma.",),
      lookalikes=("bronchiolitis", "cap", "croup", "foreign_body", "gastroenteritis"),
      step="Oral azithromycin",
      step_question="What is the most appropriate treatment?",
      step_context="{He} is admitted for monitoring.",
      step_distractors=("Oral amoxicillin", "Inhaled albuterol", "Oral dexamethasone",
                        "Supportive care")),
    C("foreign_body", "Foreign body aspiration",
      ("aspirated foreign body", "airway foreign body", "bronchial foreign body",
       "foreign body in the airway", "inhaled foreign body", "aspiration of a foreign body"),
      "pediatrics", (1, 4), (0.5, 8),
      presentations=(
          "a sudden choking and coughing episode while eating peanuts {4-24} hours ago, now "
          "with persistent cough and wheeze",
          "a cough and noisy breathing that began abruptly while {he} was playing with "
          "small toy parts"),
      key_signs=(("wheeze and decreased breath sounds over the {side} lung only",
                  "unilateral {side}-sided wheeze with reduced air entry"),),
      signs=("mild tachypnea", "no stridor", "no nasal flaring"),
      key_tests=(),
      tests=("Inspiratory and expiratory chest X-rays: {side} hyperinflation that persists on "
             "expiration.",),
      vitals={"t": (36.8, 37.3), "hr": (110, 130), "rr": (28, 36), "spo2": (94, 97)},
      variants=SIDES,
      mimics=("{He} has had a runny nose for two days.",),
      distractors=("{His} mother has asthma.",),
      lookalikes=("croup", "bronchiolitis", "asthma", "cap"),
      step="Rigid bronchoscopy",
      step_distractors=("Inhaled albuterol", "Oral dexamethasone", "Oral amoxicillin",
                        "Back blows")),
    C("intussusception", "Intussusception",
      ("ileocolic intussusception", "intussusception"),
      "pediatrics", (0.5, 3), (0.05, 6),
      presentations=(
          "episodes of severe crying with drawing up of the legs every {15-20} minutes, quiet "
          "in between, with vomiting",
          "intermittent inconsolable crying and vomiting since this morning"),
      context=("{He} had a viral illness last week.",
               "{He} passed a stool with dark red mucus."),
      key_signs=(("a sausage-shaped mass in the right upper quadrant",),),
      signs=("is:lethargic between episodes", "no peritoneal signs", "a soft abdomen"),
      key_tests=(),
      vitals={"t": (37.2, 37.9), "hr": (120, 145)},
      mimics=("{He} had a few loose stools yesterday.",),
      distractors=("{His} sister has the stomach flu.",),
      lookalikes=("gastroenteritis", "volvulus", "pyelonephritis", "appendicitis", "meningitis",
                  "pyloric_stenosis"),
      step="Air enema",
      step_context="Abdominal ultrasound shows a target sign in the right upper quadrant; "
                   "there is no free air and {he} has no peritonitis.",
      step_distractors=("Emergency laparotomy", "CT abdomen with contrast", "Upper GI series",
                        "Oral rehydration and discharge")),
    C("pyloric_stenosis", "Hypertrophic pyloric stenosis",
      ("pyloric stenosis", "infantile hypertrophic pyloric stenosis", "IHPS", "HPS"),
      "pediatrics", (3 / 52, 8 / 52), (0, 0.3),
      presentations=(
          "{4-7} days of nonbilious, projectile vomiting after every feed; {he} is hungry "
          "right after vomiting",
          "forceful, nonbilious vomiting after feeds for {3-6} days and fewer wet diapers"),
      key_signs=(("a firm, mobile, olive-shaped mass in the epigastrium",
                  "an olive-sized epigastric mass and visible gastric peristalsis"),),
      signs=("dry mucous membranes", "a sunken fontanelle"),
      key_tests=(("Sodium {131-135}, chloride {84-92}, potassium {2.8-3.3} and bicarbonate "
                  "{31-36} mEq/L.",),),
      vitals={"t": (36.7, 37.3), "hr": (150, 170), "rr": (32, 44)},
      mimics=("{He} has had a few loose stools.",),
      distractors=("{His} cousin has reflux.",),
      lookalikes=("gastroenteritis", "volvulus", "intussusception", "meningitis"),
      step="IV fluid resuscitation",
      step_context="Ultrasound shows a pyloric muscle {4-6} mm thick and a channel "
                   "{17-20} mm long.",
      step_distractors=("Immediate pyloromyotomy", "Air enema", "Thickened feeds",
                        "Upper endoscopy")),
    C("volvulus", "Midgut volvulus",
      ("malrotation with volvulus", "intestinal malrotation with volvulus", "volvulus",
       "malrotation", "midgut volvulus with malrotation"),
      "pediatrics", (1 / 52, 8 / 52), (0, 1),
      presentations=(
          "sudden bright green vomiting since this morning",
          "{3-8} episodes of green, bile-stained vomiting over the past {6-12} hours; {he} "
          "was feeding well before"),
      key_signs=(("a mildly distended, tender abdomen", "upper abdominal distension and "
                                                        "tenderness"),),
      signs=("is:irritable", "a normal-appearing anus", "no hernias"),
      key_tests=(),
      tests=("Abdominal X-ray: few gas-filled bowel loops distally, no free air.",),
      vitals={"t": (36.8, 37.4), "hr": (160, 180), "rr": (36, 48)},
      mimics=("{He} had some nonbilious spit-ups last week.",),
      distractors=("{His} older brother has a stomach bug.",),
      lookalikes=("pyloric_stenosis", "intussusception", "gastroenteritis", "meningitis"),
      step="Upper GI series",
      step_context="{He} is hemodynamically stable without peritonitis.",
      step_distractors=("Air enema", "Immediate pyloromyotomy", "Thickened feeds",
                        "Oral rehydration and discharge")),
    C("gastroenteritis", "Viral gastroenteritis",
      ("acute gastroenteritis", "gastroenteritis", "stomach flu", "norovirus gastroenteritis",
       "rotavirus gastroenteritis", "norovirus", "viral enteritis"),
      "pediatrics", (1, 60), (0, 100),
      presentations=(
          "{1-2} days of vomiting followed by frequent watery, nonbloody diarrhea",
          "vomiting and loose, watery stools {6-10} times a day since yesterday"),
      context=("Several people {he} had dinner with two days ago have similar symptoms.",
               "{His} family members are sick with the same illness.",
               "{He} was on a cruise ship where many passengers got sick."),
      key_signs=(("a soft abdomen with mild diffuse tenderness and hyperactive bowel sounds",),),
      signs=("mildly dry mucous membranes", "no rebound or guarding",
             "capillary refill under 2 seconds"),
      key_tests=(),
      tests=("Sodium {136-141} mEq/L, bicarbonate {19-22} mEq/L.",),
      vitals={"t": (37.4, 38.2), "hr": (90, 110)},
      mimics=("{He} had crampy periumbilical pain at first.",),
      distractors=("{He} ate raw oysters {4-5} weeks ago.",),
      lookalikes=("appendicitis", "intussusception", "dka", "pancreatitis"),
      step="Oral rehydration therapy",
      step_context="{He} is mildly dehydrated and can drink small sips.",
      step_distractors=("Oral ciprofloxacin", "CT abdomen with contrast", "IV ceftriaxone",
                        "Appendectomy")),
    # --- toxicology --------------------------------------------------------------------------
    C("acetaminophen", "Acetaminophen toxicity",
      ("acetaminophen overdose", "paracetamol overdose", "paracetamol toxicity",
       "acetaminophen poisoning", "APAP overdose", "Tylenol overdose",
       "acetaminophen-induced hepatotoxicity", "APAP toxicity"),
      "toxicology", (16, 45), (12, 100),
      presentations=(
          "nausea and vomiting {6-10} hours after taking about {30-50} tablets of 500-mg "
          "acetaminophen",
          "malaise and vomiting; {he} admits to taking a bottle of extra-strength "
          "acetaminophen {6-10} hours ago"),
      history=("depression",),
      context=("{He} recently went through a breakup.",),
      key_signs=(("is:alert and oriented", "is:awake and talking"),),
      signs=("mild right upper quadrant tenderness", "normal pupils", "normal breathing"),
      key_tests=(("AST {38-90} U/L, ALT {40-95} U/L, INR 1.1.",),),
      tests=("Salicylate level undetectable.", "Ethanol undetectable."),
      vitals={"hr": (88, 104)},
      mimics=("{He} has right upper quadrant pain.",),
      distractors=("{He} says {he} also took a few of {his} mother's aspirin tablets last "
                   "month.",),
      lookalikes=("salicylate", "gastroenteritis", "cholecystitis", "opioid"),
      step="N-acetylcysteine",
      step_context="The serum acetaminophen level is {120-190} µg/mL, above the treatment line.",
      step_distractors=("IV sodium bicarbonate", "IV naloxone", "Hemodialysis",
                        "Atropine and pralidoxime")),
    C("opioid", "Opioid overdose",
      ("opioid toxicity", "opioid intoxication", "heroin overdose", "fentanyl overdose",
       "opiate overdose", "narcotic overdose", "opioid poisoning"),
      "toxicology", (18, 55), (12, 100), mode="found",
      presentations=(
          "being found unresponsive in a public restroom",
          "being found hard to wake by {his} roommate, with a syringe nearby"),
      key_signs=(("pinpoint pupils",), ("shallow, slow breathing", "slow, shallow breaths")),
      signs=("fresh needle marks on the forearms", "is:responsive only to painful stimuli",
             "no focal deficits"),
      key_tests=(("Fingerstick glucose {96-130} mg/dL.",),),
      tests=("ABG: pH {ph}, PaCO2 {paco2} mm Hg.",),
      vitals={"t": (36.0, 36.8), "hr": (54, 66), "sbp": (100, 118), "dbp": (60, 72),
              "rr": (4, 8), "spo2": (78, 86)},
      compute=_abg((58, 70), (24, 26)),
      mimics=("exam:a small amount of saliva at the mouth",),
      distractors=("{He} has type 1 diabetes.", "{He} works as a crop duster."),
      lookalikes=("hypoglycemia", "organophosphate", "co_poisoning", "stroke"),
      step="IV naloxone",
      step_context="{He} is being ventilated with a bag-valve mask.",
      step_distractors=("Atropine and pralidoxime", "IV flumazenil", "IV dextrose",
                        "N-acetylcysteine", "Noncontrast CT of the head")),
    C("organophosphate", "Organophosphate poisoning",
      ("organophosphate toxicity", "cholinergic crisis", "cholinergic toxicity",
       "acetylcholinesterase inhibitor poisoning", "insecticide poisoning",
       "cholinesterase inhibitor poisoning", "organophosphate overdose"),
      "toxicology", (20, 65), (12, 100),
      presentations=(
          "vomiting, diarrhea, sweating and difficulty breathing {exposure}",
          "sudden drooling, vomiting, diarrhea and breathlessness {exposure}"),
      variants=({"exposure": "that began {1-2} hours after {he} sprayed pesticide on a farm"},
                {"exposure": "that began an hour after {he} drank an insecticide from the "
                             "garden shed"}),
      key_signs=(("pinpoint pupils",),
                 ("profuse sweating, salivation and tearing", "drooling and heavy sweating"),
                 ("diffuse wheezes with copious secretions", "bronchorrhea and wheeze")),
      signs=("muscle fasciculations", "urinary incontinence"),
      key_tests=(),
      tests=("Fingerstick glucose {100-140} mg/dL.",),
      vitals={"t": (36.6, 37.2), "hr": (44, 56), "sbp": (92, 110), "dbp": (54, 66),
              "rr": (24, 30), "spo2": (86, 91)},
      mimics=("{He} takes oxycodone for back pain.",),
      distractors=("{He} has a history of asthma.", "{He} ate leftovers last night."),
      lookalikes=("opioid", "asthma", "gastroenteritis", "co_poisoning"),
      step="Atropine and pralidoxime",
      step_context="{His} clothing has been removed, the skin washed, and {he} is on oxygen.",
      step_distractors=("IV naloxone", "IV physostigmine", "IV flumazenil",
                        "N-acetylcysteine")),
    C("salicylate", "Salicylate toxicity",
      ("aspirin overdose", "salicylate poisoning", "aspirin toxicity", "salicylism",
       "salicylate overdose", "aspirin poisoning"),
      "toxicology", (16, 80), (12, 100),
      presentations=(
          "ringing in the ears, vomiting and rapid breathing {3-6} hours after taking "
          "{40-60} aspirin tablets",
          "ringing in the ears, nausea and fast breathing over {2-3} days"),
      history=("chronic back pain treated with large doses of aspirin", "depression"),
      key_signs=(("rapid, deep breathing",), ("diaphoresis", "sweaty skin")),
      signs=("is:alert and oriented", "mild epigastric tenderness"),
      key_tests=(("ABG: pH {ph}, PaCO2 {paco2} mm Hg, HCO3 {hco3} mEq/L.",),
                 ("Sodium {na}, chloride {cl} mEq/L.",)),
      tests=("Glucose {90-120} mg/dL.", "Acetaminophen level undetectable."),
      vitals={"t": (37.4, 38.2), "hr": (104, 120), "rr": (26, 32)},
      compute=_salicylate,
      mimics=("{He} has had abdominal pain and thirst.",),
      distractors=("{He} has type 2 diabetes controlled with diet.",),
      lookalikes=("dka", "acetaminophen", "gastroenteritis", "thyroid_storm"),
      step="IV sodium bicarbonate",
      step_context="Salicylate level {45-80} mg/dL; creatinine is normal.",
      step_distractors=("Hemodialysis", "N-acetylcysteine", "IV naloxone",
                        "Endotracheal intubation")),
    C("co_poisoning", "Carbon monoxide poisoning",
      ("CO poisoning", "carbon monoxide toxicity", "CO toxicity",
       "carbon monoxide intoxication"),
      "toxicology", (20, 80), (0, 100),
      presentations=(
          "a dull headache, dizziness and nausea that began this morning",
          "headache, nausea and fatigue for {1-2} days that ease when {he} is at work"),
      context=("{His} {partner} and child have headaches too.",
               "{He} has been using a gasoline generator in the garage during a power outage.",
               "{He} heats {his} old house with a kerosene space heater."),
      key_signs=(("no focal neurological deficits", "a normal neurological examination"),),
      signs=("no neck stiffness", "is:alert and oriented", "no papilledema"),
      key_tests=(("Co-oximetry carboxyhemoglobin {14-22}%.",),),
      tests=("Fingerstick glucose {95-125} mg/dL.",),
      vitals={"hr": (100, 112), "spo2": (97, 99)},
      mimics=("{He} vomited twice.",),
      distractors=("{He} has a history of migraine.",),
      lookalikes=("gastroenteritis", "sah", "meningitis", "hypoglycemia"),
      step="100% oxygen by non-rebreather mask",
      step_context="{He} has had no loss of consciousness, chest pain or neurological symptoms.",
      step_distractors=("IV hydroxocobalamin", "Subcutaneous sumatriptan",
                        "Noncontrast CT of the head", "Methylene blue")),
)
del C

CONDITION_BY_KEY: dict[str, Condition] = {c.key: c for c in CONDITIONS}
SYSTEMS = tuple(dict.fromkeys(c.system for c in CONDITIONS))

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
    family="clinical_reasoning",
    description="Answer a clinical case vignette: the most likely diagnosis or the best next "
                "step, as multiple choice or free response.",
    # Short on purpose: the prompt is most of every training token.
    instruction="You are a physician answering a clinical case question. Give only the single "
                "best answer, with no explanation.",
    build_items=generate_vignettes,
)
