"""Synthetic patient-portal messages with two exact labels: who handles it, and how fast.

Every message is written from one archetype (a kind of request, such as "refill request" or
"fever after surgery"). The archetype alone fixes both labels; the wording never does.

Who handles it (``provider``). Physician: new or worsening symptoms that need a diagnosis,
questions about abnormal results, decisions to stop or change a medication. Nurse: protocol
care and teaching: wound care, checks after surgery, home readings (blood pressure, glucose),
injection technique. Pharmacist: medication supply and use: refills, interactions, dose timing,
insurance substitutions, dosing mistakes. Scheduling (front desk): appointments, forms and
letters, referral status, billing.

How fast (``urgency``). Urgent means someone on the care team should act today: possible
emergency symptoms, signs of infection after surgery, dangerous home glucose readings, running
out of or double-dosing a high-risk medication, or a time-critical treatment appointment at
risk. Everything else is non-urgent. Urgency follows the clinical content, not the tone: an
alarmed message about a bill is non-urgent, a calm one about chest pressure is urgent.

Mixed messages (two concerns) go to the more clinically demanding role, in the order physician
> nurse > pharmacist > scheduling, and are urgent when either concern is urgent. Negated
findings ("no fever"), past resolved problems and relatives' illnesses change neither label.

Scheduling has one urgent archetype only (a time-critical treatment visit at risk); a front
desk request is otherwise never same-day clinically. ``archetype`` names the base archetype
(for a mixed message, the concern that decides the provider); hard variants add a suffix,
e.g. ``refill_request:alarmed_routine`` (see ``HARD_VARIANTS``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from sftdpo.tasks.base import LabelTask
from sftdpo.tasks.toolkit import (
    DistinctTexts,
    abbreviate,
    check_settings,
    cycled,
    decap,
    exact_share,
    fill,
)

PROVIDERS = ("physician", "nurse", "pharmacist", "scheduling")
URGENCIES = ("urgent", "non-urgent")
# Share of urgent items per provider (exact up to rounding); overall about 0.40.
URGENT_SHARE = {"physician": 0.6, "nurse": 0.45, "pharmacist": 0.35, "scheduling": 0.2}
HARD_VARIANTS = ("mixed", "negated_red_flag", "distractor", "calm_urgent", "alarmed_routine")
FAMILY_SHARE = 0.2  # messages written by a relative on the patient's behalf


@dataclass(frozen=True)
class Archetype:
    name: str
    provider: str
    urgency: str
    templates: tuple[str, ...]
    cases: tuple[dict[str, str], ...] = ({},)  # coherent slot values (a drug and its effect)


def _cases(header: str, *rows: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    keys = header.split()
    return tuple(dict(zip(keys, row, strict=True)) for row in rows)


# Templates speak about the patient through voice fields: {I} {me} {my} {am} {have} {Im} {Ive},
# and verb endings {s}/{es} ("take{s}", "do{es}"), so a relative can write the same message.
ARCHETYPES = (
    # --- physician -------------------------------------------------------------------------
    Archetype("new_chest_pain", "physician", "urgent", (
        "{I} {have} had {cp} {duration}, {radiation}, with {assoc}. Never had this before.",
        "New chest pain {duration}. Feels like {cp}, with {assoc}. Comes on with stairs and "
        "eases when {I} sit{s} down.",
        "{Ive} been getting {cp} {duration}. It's {radiation} now too. {I} took an aspirin. "
        "What should {I} do?",
        "Chest discomfort {duration}: {cp}, {radiation}, {assoc}. No heart history.",
    )),
    Archetype("worsening_after_visit", "physician", "urgent", (
        "Seen {days_ago} for {condition} and started on {med}. Not better, actually worse: "
        "{worse}. Should {I} come back in?",
        "Update after {my} visit {days_ago} for {condition}: {worse}. Still taking {med}.",
        "Things are worse since the appointment {days_ago} ({condition}). {worse}. "
        "Do{es} {I} need to be seen again?",
    ), _cases(
        "condition med worse",
        ("pneumonia", "azithromycin",
         "fever is {temp} now and {I} get SOB walking to the bathroom"),
        ("a UTI", "nitrofurantoin 100 mg",
         "fever of {temp}, chills and pain in {my} right side and back"),
        ("cellulitis on {my} leg", "cephalexin 500 mg",
         "the redness has spread past the line the doctor drew and it's hot"),
        ("an asthma flare", "prednisone 40 mg",
         "{Im} using the albuterol every 2 hours and still wheezing"),
        ("a kidney stone", "tamsulosin 0.4 mg", "vomiting since last night, can't keep meds down"),
    )),
    Archetype("bleeding_on_blood_thinner", "physician", "urgent", (
        "{I} take{s} {thinner} for {indication}. Noticed {bleed} {duration}. {Im} {bleed_feel}.",
        "On {thinner} and {I} {have} had {bleed} {duration}. {Im} {bleed_feel}. "
        "Should {I} stop the blood thinner?",
        "Question: {I} {have} had {bleed} {duration}. {I} {am} on {thinner} for {indication}. "
        "{Im} {bleed_feel}.",
    )),
    Archetype("med_side_effect_decision", "physician", "non-urgent", (
        "Started {drug} about {weeks} ago and {Ive} had {effect} since. Should {I} stop it or "
        "switch to something else?",
        "The {drug} is giving {me} {effect}. Do{es} {I} keep taking it until the next visit?",
        "Could {effect} be a side effect of {drug}? Started after the dose went up. "
        "Not sure if {I} should keep taking it.",
    ), _cases(
        "drug effect",
        ("lisinopril 10 mg", "a dry tickly cough"), ("metformin 500 mg", "diarrhea most days"),
        ("atorvastatin 40 mg", "achy thigh muscles"), ("amlodipine 10 mg", "swollen ankles"),
        ("sertraline 50 mg", "trouble sleeping and mild nausea"),
        ("tamsulosin 0.4 mg", "dizziness on standing"), ("gabapentin 300 mg", "daytime fogginess"),
        ("hydrochlorothiazide 25 mg", "leg cramps at night"),
    )),
    Archetype("abnormal_lab_question", "physician", "non-urgent", (
        "Saw {my} results on the portal. {test} is {value}, flagged {flag}. What does that mean "
        "and do{es} {I} need to change anything?",
        "{my} {test} came back {value} (marked {flag}). Should {I} recheck it or see someone?",
        "Got a notification that labs are in. {test} {value}, {flag}. Nobody has called yet. "
        "Is this something to act on?",
        "Can the doctor explain {my} {test}? It says {value}, {flag}. Is that why {I} {have} "
        "been so tired?",
    ), _cases(
        "test value flag",
        ("A1c", "7.9%", "high"), ("TSH", "6.4 mIU/L", "high"), ("vitamin D", "17 ng/mL", "low"),
        ("hemoglobin", "11.1 g/dL", "low"), ("ferritin", "11 ng/mL", "low"),
        ("potassium", "5.3 mmol/L", "high"), ("ALT", "68 U/L", "high"),
        ("LDL", "172 mg/dL", "high"), ("creatinine", "1.4 mg/dL", "high"),
    )),
    Archetype("persistent_symptom", "physician", "non-urgent", (
        "Not an emergency, but {symptom} for {weeks}. Do{es} {I} need imaging or a visit?",
        "{I} {have} had {symptom} for {weeks}. What do you recommend?",
        "Wanted the doctor's opinion: {symptom}, going on {weeks}. Getting a bit worse.",
    ), _cases(
        "symptom",
        ("right knee pain, worse on stairs",), ("heartburn most nights even on omeprazole",),
        ("a mole on {my} back that looks bigger",), ("waking up to pee 3-4 times a night",),
        ("a dry cough that started with a cold",), ("numbness in {my} left hand in the mornings",),
    )),
    # --- nurse -----------------------------------------------------------------------------
    Archetype("postop_fever", "nurse", "urgent", (
        "Had {surgery} {pod} ago. Temp tonight {temp} and {sign}. Is this normal?",
        "{Im} {pod} out from {my} {surgery}. Fever of {temp} this afternoon, {sign}. "
        "Discharge papers said to call with a fever over 100.4.",
        "Post-op question. {surgery}, {pod} ago. Running {temp}, {sign}. Took Tylenol.",
    )),
    Archetype("dangerous_glucose", "nurse", "urgent", (
        "{my} sugars have been {high_glucose} the past 2 days even with the insulin. Very "
        "thirsty and peeing all the time.",
        "Blood sugar was {low_glucose} this morning, shaky and sweaty. Juice brought it up to "
        "{recovered}. Third low this week on the glipizide.",
        "Meter readings {high_glucose} since yesterday. {I} took {my} Lantus. "
        "Throwing up since this morning.",
        "Two lows overnight, {low_glucose} and {low_glucose2}, since the new insulin dose.",
    )),
    Archetype("wound_care_question", "nurse", "non-urgent", (
        "Had {surgery} {pod} ago. Noticed {wound_note}. No fever. Wanted to ask {wound_q}.",
        "Question about {my} incision: {wound_note}, otherwise it looks ok. Not sure {wound_q}.",
        "Wound question after {my} {surgery}. {wound_note}. Not sure if it's infected, it's not "
        "hot or spreading. Can someone tell {me} {wound_q}?",
    )),
    Archetype("bp_log", "nurse", "non-urgent", (
        "Here are {my} blood pressure readings from this week like the doctor asked: "
        "{bp_readings}. Still taking the {bp_med} every morning.",
        "Blood pressure log: {bp_readings}. Pulse around {pulse}. Are these ok?",
        "{I} {have} been checking {my} blood pressure at home. Mornings: {bp_readings}. "
        "No headache or dizziness.",
        "Sending readings for the nurse. {bp_readings}. Should {I} bring the cuff in to check it?",
    )),
    Archetype("injection_howto", "nurse", "non-urgent", (
        "About the {pen}: can the nurse tell {me} {inj_q}? They showed {me} once but {I} forgot.",
        "New to the {pen}. Not sure {inj_q}. Want to make sure it's done right.",
        "First week on the {pen}. Question: {inj_q}? No reaction or anything.",
    )),
    # --- pharmacist ------------------------------------------------------------------------
    Archetype("refill_request", "pharmacist", "non-urgent", (
        "Need a refill on {refill_drug}, only {days_left} left. Please send to {pharmacy}.",
        "Can you renew {my} {refill_drug} prescription? Pharmacy says no refills left. "
        "{I} {have} {days_left} left.",
        "rx refill please: {refill_drug}, 90 day supply to {pharmacy}.",
        "Could you send {my} {refill_drug} to {pharmacy}? Switching pharmacies.",
    )),
    Archetype("drug_interaction", "pharmacist", "non-urgent", (
        "Is it ok to take {other} with {my} {current}?",
        "{I} take{s} {current}. Is {other} safe with it? Just checking first.",
        "Pharmacy question: any interaction between {current} and {other}?",
    ), _cases(
        "current other",
        ("warfarin", "ibuprofen for {my} back"), ("sertraline 100 mg", "St. John's wort"),
        ("lisinopril 20 mg", "a potassium supplement"), ("levothyroxine", "calcium with vitamin D"),
        ("atorvastatin 40 mg", "grapefruit juice"), ("escitalopram 10 mg", "sumatriptan"),
        ("Eliquis", "fish oil"),
    )),
    Archetype("dose_timing", "pharmacist", "non-urgent", (
        "Question about {my} {drug}: {timing_q}?",
        "For the {drug}, {timing_q}? The label doesn't say.",
        "Pharmacist question. {I} take{s} {drug}. {timing_q}?",
    ), _cases(
        "drug timing_q",
        ("levothyroxine 88 mcg", "is it ok with morning coffee"),
        ("metformin 500 mg", "{I} forgot last night's dose, take two this morning"),
        ("atorvastatin 20 mg", "does it matter if it's morning or night"),
        ("omeprazole 20 mg", "should it be before or after breakfast"),
        ("alendronate 70 mg", "{I} missed the weekly dose on Sunday, take it today"),
        ("prednisone 10 mg", "the taper is confusing, is it 3 tabs or 2 tabs this week"),
        ("amoxicillin 500 mg", "does three times a day mean every 8 hours overnight too"),
    )),
    Archetype("formulary_substitution", "pharmacist", "non-urgent", (
        "Insurance stopped covering {brand} and says {alt} is on their formulary. Is that ok, "
        "and can you send a new prescription?",
        "Pharmacy says {brand} needs a prior auth now, {copay} without it. Is {alt} the same?",
        "Got a letter that {brand} is dropped from {my} plan next month, {alt} is preferred. "
        "What do we need to do?",
    ), _cases(
        "brand alt",
        ("Advair 250/50", "Wixela"), ("Synthroid 100 mcg", "generic levothyroxine"),
        ("Ozempic", "Trulicity"), ("Jardiance 10 mg", "Farxiga 10 mg"),
        ("Symbicort", "Breyna"), ("Xarelto 20 mg", "Eliquis 5 mg"),
    )),
    Archetype("out_of_critical_med", "pharmacist", "urgent", (
        "Completely out of {crit} as of {when}. Pharmacy needs a new prescription before they "
        "can fill it.",
        "{I} ran out of {my} {crit} {when}. Mail order hasn't come. Can you send some to "
        "{pharmacy} today?",
        "Missed {my} {crit} {when} bc the refill was denied. What do we do?",
    )),
    Archetype("double_dose", "pharmacist", "urgent", (
        "{I} accidentally took {my} {dd} twice this morning. Is that dangerous?",
        "Double dosed on {dd}, pill organizer mixup. About {hours} ago. "
        "{Im} {dd_feel} so far.",
        "Took two doses of {dd} today by mistake. What should {I} watch for?",
    )),
    # --- scheduling ------------------------------------------------------------------------
    Archetype("reschedule", "scheduling", "non-urgent", (
        "Need to reschedule {my} {visit} on {day}. Anything the following week?",
        "Can {I} move {my} appointment with {doc} on {day} at {time}? Need a later time.",
        "Please cancel {my} {visit} on {day} and book something next month.",
        "Is there an earlier opening for {my} {visit}? Currently booked for {day}.",
    )),
    Archetype("forms_letters", "scheduling", "non-urgent", (
        "Can {doc} fill out {form}? We can drop it off. Needed {deadline}.",
        "Following up on {form} faxed over {weeks} ago. Has it been signed?",
        "Need {form}. What is the fee and how long does it take?",
        "Employer wants {form} {deadline}. Do{es} {I} need an appointment for that?",
    )),
    Archetype("referral_status", "scheduling", "non-urgent", (
        "What's the status of the referral to {specialty}? Haven't heard anything in {weeks}.",
        "{doc} said they'd refer {me} to {specialty} but nobody has called. Who do we contact?",
        "The {specialty} office says they never got the referral. Can you resend it?",
        "Checking on the {specialty} referral. Insurance needs an auth number to schedule.",
    )),
    Archetype("billing_question", "scheduling", "non-urgent", (
        "Got a bill for {amount} for {my} physical. Aren't preventive visits covered?",
        "Charged the copay twice for the visit on {past_day}. Can someone fix this?",
        "Need an itemized statement for the visit on {past_day} for {my} HSA.",
        "Insurance denied the claim from {past_day}, says coding issue. Who do we talk to?",
    )),
    Archetype("time_critical_appt", "scheduling", "urgent", (
        "{my} chemo infusion is tomorrow at {time} and the ride cancelled. Can it move later "
        "in the day? Can't miss a cycle.",
        "{I} can't make tomorrow's chemo appointment, stuck out of town. Need to rebook this week.",
        "Surgery is {surgery_day} and the pre-op visit got cancelled. They said no surgery "
        "without it. Need one today or tomorrow.",
        "Lab cancelled {my} INR check and the procedure is {surgery_day}. They need the result "
        "first. Can {I} get in today?",
    )),
)
ARCHETYPE_BY_NAME = {a.name: a for a in ARCHETYPES}
RANK = {p: i for i, p in enumerate(PROVIDERS)}  # lower = more clinically demanding

SLOTS = {
    "cp": ("pressure in the middle of {my} chest", "tightness across {my} chest",
           "a squeezing feeling in {my} chest", "a heavy ache behind the breastbone"),
    "radiation": ("going into {my} left arm", "going up into {my} jaw", "going into {my} back",
                  "going down {my} left arm"),
    "assoc": ("a little SOB", "sweating and nausea", "shortness of breath", "lightheadedness"),
    "duration": ("since this morning", "for about 2 hours", "since last night",
                 "on and off since yesterday", "since around 4 pm"),
    "thinner": ("apixaban (Eliquis) 5 mg", "warfarin", "rivaroxaban 20 mg", "Xarelto"),
    "indication": ("afib", "a blood clot in {my} leg", "a clot in {my} lung last year"),
    "bleed": ("black, tarry stools", "blood in {my} urine", "nosebleeds that are hard to stop",
              "vomit that looks like coffee grounds", "bright red blood in {my} stool"),
    "bleed_feel": ("a bit lightheaded", "more tired than usual", "dizzy when standing up",
                   "feeling ok otherwise"),
    "surgery": ("gallbladder surgery", "hernia surgery", "knee replacement surgery",
                "shoulder surgery", "appendix surgery", "back surgery"),
    "pod": ("3 days", "4 days", "5 days", "a week"),
    "sign": ("the incision is red, warm and leaking yellow pus", "chills and the wound smells bad",
             "the skin around the incision is getting redder and hard",
             "the incision opened a bit and is draining cloudy fluid"),
    "wound_note": ("a little clear drainage on the gauze", "steri-strips peeling off",
                   "some pinkness along the edges", "a small scab at one end", "a lot of itching"),
    "wound_q": ("when {I} can shower", "how often to change the dressing",
                "whether Neosporin is ok on it", "when the stitches come out"),
    "bp_med": ("lisinopril 20 mg", "amlodipine 5 mg", "losartan 50 mg", "metoprolol 25 mg"),
    "pen": ("Ozempic pen", "enoxaparin (Lovenox) shots", "Lantus pen", "Humira pen", "B12 shots"),
    "inj_q": ("where on the belly to inject", "whether to pinch the skin first",
              "if a bruise at the spot is normal", "how long to hold the needle in",
              "how to get rid of the used needles", "if it has to stay in the fridge"),
    "refill_drug": ("atorvastatin 20 mg", "lisinopril 10 mg", "metformin 500 mg",
                    "levothyroxine 50 mcg", "sertraline 100 mg", "omeprazole 40 mg",
                    "montelukast 10 mg", "the albuterol inhaler", "tamsulosin 0.4 mg"),
    "days_left": ("about 10 days", "a week", "2 weeks", "12 pills"),
    "pharmacy": ("the CVS on Main St", "Walgreens on 5th Ave", "Costco pharmacy",
                 "the Walmart on Route 9", "Express Scripts mail order"),
    "crit": ("insulin glargine (Lantus)", "levetiracetam 500 mg (seizure med)",
             "tacrolimus 1 mg (transplant med)", "Eliquis 5 mg", "metoprolol tartrate 50 mg"),
    "when": ("yesterday", "this morning", "last night", "2 days ago"),
    "dd": ("metoprolol tartrate 50 mg", "warfarin 5 mg", "glipizide 10 mg", "Lantus (30 units)",
           "methotrexate (the weekly dose)", "oxycodone 5 mg"),
    "dd_feel": ("fine", "a little lightheaded", "ok", "kind of tired"),
    "visit": ("annual physical", "diabetes f/u", "6 month follow-up", "med check",
              "mammogram", "blood pressure follow-up"),
    "day": ("Tuesday the 14th", "Thursday the 9th", "the 22nd", "Friday morning", "March 3rd"),
    "past_day": ("March 2nd", "the 3rd", "the 9th", "January 17th"),
    "time": ("9:30", "2:15", "10 am", "3:40"),
    "weeks": ("2 weeks", "3 weeks", "a month", "6 weeks"),
    "form": ("FMLA paperwork", "a work note for the days missed", "a disability parking form",
             "a jury duty excuse letter", "a short-term disability form"),
    "deadline": ("by the end of the month", "next week", "before the 30th"),
    "specialty": ("cardiology", "dermatology", "GI", "physical therapy", "orthopedics",
                  "endocrinology", "neurology"),
    "surgery_day": ("Thursday", "Monday morning", "in 2 days", "this Friday"),
    "doc": ("Dr. Patel", "Dr. Nguyen", "Dr. Okafor", "Dr. Schmidt", "Dr. Rivera", "Dr. Kim"),
}
GENERATED = {
    "days_ago": lambda r: f"{r.randint(2, 6)} days ago",
    "temp": lambda r: f"{r.randint(1009, 1032) / 10:.1f}",
    "high_glucose": lambda r: f"{r.randint(305, 340)}-{r.randint(350, 430)}",
    "low_glucose": lambda r: str(r.randint(48, 58)),
    "low_glucose2": lambda r: str(r.randint(52, 62)),
    "recovered": lambda r: str(r.randint(86, 112)),
    "pulse": lambda r: str(r.randint(62, 84)),
    "hours": lambda r: r.choice(("an hour", "2 hours", "3 hours", "30 minutes")),
    "amount": lambda r: f"${r.randint(60, 900)}.{r.choice(('00', '40', '75'))}",
    "copay": lambda r: f"${r.randint(85, 650)}",
    "bp_readings": lambda r: ", ".join(
        f"{d} {r.randint(122, 149)}/{r.randint(72, 92)}"
        for d in ("Mon", "Tue", "Wed", "Thu", "Fri")[: r.randint(3, 5)]),
}
VOICE_SELF = {"I": "I", "me": "me", "my": "my", "am": "am", "have": "have", "Im": "I'm",
              "Ive": "I've", "s": "", "es": ""}
RELATIVES = (("my mom", "she"), ("my dad", "he"), ("my husband", "he"), ("my wife", "she"),
             ("my grandmother", "she"), ("my father-in-law", "he"))
NAMES = {"she": ("Maria", "Linda", "Anh", "Keisha", "Priya", "Fatima", "Mei", "Dolores", "Olga"),
         "he": ("James", "Robert", "Miguel", "Tom", "Greg", "Darnell", "Sven", "Kwame", "Raj")}
FAMILY_INTROS = ("This is {writer}, writing for {rel} ({pt}).", "{Rel} asked me to message you.",
                 "Sending this for {rel}, {pron} doesn't use the portal.",
                 "I manage {rel}'s meds and appointments.")
OPENERS = {
    "polite": ("Hello,", "Hi {doc},", "Good morning,", "Dear {doc},", "Hi there,"),
    "terse": ("", "", "Hi."),
    "rambling": ("Hi, sorry to bother you again.", "Hello, hope everyone is well over there.",
                 "Hi, I was on hold for 20 minutes so I'm writing here instead."),
    "anxious": ("Hi, I'm a bit worried about this.", "Hello, I'm nervous and not sure what to do.",
                "Hi,"),
    "calm": ("Hi, no rush on this.", "Hello, probably nothing, but figured I'd mention it.",
             "Hi, not a big deal and I don't want to bother anyone."),
    "alarmed": ("URGENT!!!", "PLEASE READ ASAP.", "Hi, I'm really freaking out here.",
                "Emergency question!!"),
}
FILLERS = ("Hope this goes to the right person.", "Sorry if this is the wrong place.",
           "My daughter set up this portal for me.", "Things have been busy with the holidays.")
CLOSERS = {
    "polite": ("Thank you!", "Thanks so much for your help.", "I appreciate it."),
    "terse": ("", "thx", "pls advise"),
    "rambling": ("Sorry for the long message. Thank you.", "Anyway, thanks for reading all this."),
    "anxious": ("Please let me know soon.", "Sorry, I worry about these things.",
                "I just want to make sure everything is ok."),
    "calm": ("Whenever someone gets a chance is fine.", "No need to call, a message back is fine.",
             "It can wait until next week if you're busy."),
    "alarmed": ("Please call me back ASAP!!", "I need an answer TODAY.",
                "This can't wait, please hurry.", "I'm panicking, please respond right away."),
}
NEGATED_RED_FLAGS = ("No chest pain or SOB, nothing like that.",
                     "{I} {am} not having any fever, bleeding or trouble breathing.",
                     "Denies chest pain or fever.", "No fever. No blood. Not dizzy.",
                     "Not an emergency, no pain, no fever, {I} feel{s} fine otherwise.",
                     "No headache, no vision changes, no chest pain.")
DISTRACTORS = ("{my} mom had a heart attack last year, so {Im} a little paranoid.",
               "{I} had chest pain back in 2019 but it was reflux and it's been fine since.",
               "{I} had a blood clot in {my} leg years ago, long resolved.",
               "{I} was in the ER in the spring for a kidney stone, that all passed.",
               "Everyone at home had the flu last month (fevers to 103), all better now.",
               "The dizziness from the last visit went away on its own.")
CONNECTORS = ("Also, ", "One more thing. ", "While I have you, ", "Unrelated, but ", "P.S. ")
ABBREVIATIONS = ((r"\bblood pressure\b", "BP"), (r"\bshortness of breath\b", "SOB"),
                 (r"\bheadache\b", "HA"), (r"\bappointment\b", "appt"),
                 (r"\bprescription\b", "rx"), (r"\bfollow-up\b", "f/u"), (r"\bwith\b", "w/"),
                 (r"\bbecause\b", "bc"), (r"\bplease\b", "pls"), (r"\bthanks\b", "thx"),
                 (r"\bpatient\b", "pt"), (r"\babdominal\b", "abd"))
REGISTERS = ("polite", "terse", "rambling", "anxious")


def is_hard(archetype: str) -> bool:
    """Whether an ``archetype`` value names a hard variant."""
    return ":" in archetype


def _pick(rng: random.Random, archetypes) -> Archetype:
    return rng.choice(list(archetypes))


def _of(provider: str | None = None, urgency: str | None = None, below: str | None = None):
    """Archetypes of a provider, or of roles less demanding than ``below``, by urgency."""
    return [a for a in ARCHETYPES
            if (provider is None or a.provider == provider)
            and (below is None or RANK[a.provider] > RANK[below])
            and (urgency is None or a.urgency == urgency)]


def _render(template: str, rng: random.Random, voice: dict, case: dict) -> str:
    def value(field: str):
        if field in voice:
            return voice[field]
        if field in case:
            return case[field]
        if field in SLOTS:
            return rng.choice(SLOTS[field])
        return GENERATED[field](rng) if field in GENERATED else None
    return fill(template, rng, value, once=True)


def _body(arch: Archetype, rng: random.Random, voice: dict) -> str:
    return _render(rng.choice(arch.templates), rng, voice, rng.choice(arch.cases))


def _capitalise(text: str) -> str:
    return re.sub(r"(^|[.!?]\s+|\n)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def _plan(arch_rng: random.Random, provider: str, urgency: str, hard: bool):
    """(variant, primary, secondary) for one item; variant is None for a plain item."""
    if not hard:
        return None, _pick(arch_rng, _of(provider, urgency)), None
    if urgency == "urgent":
        variant = arch_rng.choice(("mixed", "calm_urgent", "distractor"))
    else:
        variant = arch_rng.choice(("mixed", "negated_red_flag", "distractor", "alarmed_routine"))
    if variant != "mixed":
        return variant, _pick(arch_rng, _of(provider, urgency)), None
    if provider == "scheduling":  # nothing ranks below it: two front-desk concerns
        primary = _pick(arch_rng, _of(provider, urgency))
        others = [a for a in _of(provider, "non-urgent") if a is not primary]
        return variant, primary, _pick(arch_rng, others)
    if urgency == "non-urgent":
        return (variant, _pick(arch_rng, _of(provider, "non-urgent")),
                _pick(arch_rng, _of(below=provider, urgency="non-urgent")))
    if arch_rng.random() < 0.5:  # the urgent concern is the one that decides the provider
        return (variant, _pick(arch_rng, _of(provider, "urgent")),
                _pick(arch_rng, _of(below=provider)))
    # a routine concern for this role plus an urgent one for a less demanding role
    return (variant, _pick(arch_rng, _of(provider, "non-urgent")),
            _pick(arch_rng, _of(below=provider, urgency="urgent")))


def _message(rng: random.Random, variant, primary: Archetype, secondary) -> str:
    register = {"calm_urgent": "calm", "alarmed_routine": "alarmed"}.get(
        variant, rng.choice(REGISTERS))
    signer = rng.choice(NAMES[rng.choice(("she", "he"))])
    voice, intro = dict(VOICE_SELF), ""
    if rng.random() < FAMILY_SHARE:
        rel, pron = rng.choice(RELATIVES)
        patient = rng.choice([n for n in NAMES[pron] if n != signer])
        voice.update(I=pron, me={"he": "him", "she": "her"}[pron], am="is", have="has",
                     my={"he": "his", "she": "her"}[pron], Im=f"{pron}'s", Ive=f"{pron}'s",
                     s="s", es="es")
        intro = rng.choice(FAMILY_INTROS).format(writer=signer, rel=rel, Rel=rel.capitalize(),
                                                 pt=patient, pron=pron)
    sentences = [intro] if intro else []
    if register == "rambling":
        sentences.append(rng.choice(FILLERS))
    extra = ""
    if variant == "distractor":
        extra = rng.choice(DISTRACTORS).format(**voice)
    elif variant == "negated_red_flag":
        extra = rng.choice(NEGATED_RED_FLAGS).format(**voice)
    if extra and rng.random() < 0.5:
        sentences.append(extra)
    bodies = [_body(primary, rng, voice)]
    if secondary is not None:
        bodies.append(_body(secondary, rng, voice))
        rng.shuffle(bodies)
        bodies[1] = rng.choice(CONNECTORS) + decap(bodies[1])
    sentences.extend(bodies)
    if extra and extra not in sentences:
        sentences.append(extra)
    doc = rng.choice(SLOTS["doc"])
    opener = rng.choice(OPENERS[register]).format(doc=doc)
    closer = rng.choice(CLOSERS[register])
    sign = rng.choice(("", f"- {signer}", signer) + (() if closer else (f"Thanks, {signer}",)))
    sep = " " if register == "terse" or rng.random() < 0.4 else "\n"
    middle = " ".join(sentences)
    if sep == " " and opener.endswith(","):  # "Hi, need a refill", not "Hi, Need a refill"
        middle = decap(middle)
    text = sep.join(p for p in (opener, middle, closer, sign) if p)
    text = _capitalise(text)
    if rng.random() < (0.8 if register == "terse" else 0.25):
        text = abbreviate(text, rng, ABBREVIATIONS, 0.7, re.IGNORECASE)
    if register == "terse" and rng.random() < 0.3:
        text = text.lower()
    return text


def generate_messages(n_items: int, seed: int, hard_share: float = 0.3,
                      typo_rate: float = 0.05) -> list[dict]:
    """``n_items`` distinct portal messages with ``provider`` and ``urgency`` labels.

    Providers are balanced (counts differ by at most one); within each provider a share
    ``URGENT_SHARE[provider]`` is urgent and overall a share ``hard_share`` of items are hard
    variants (both exact up to rounding). Typos come from a separate per-item generator, so
    the same seed gives the same messages and labels at every ``typo_rate``.
    """
    check_settings(n_items, hard_share=hard_share, typo_rate=typo_rate)
    rng = random.Random(seed)
    providers = cycled(PROVIDERS, n_items)
    rng.shuffle(providers)
    urgencies = [""] * n_items
    for provider in PROVIDERS:
        idx = [i for i, p in enumerate(providers) if p == provider]
        n_urgent = round(len(idx) * URGENT_SHARE[provider])
        flags = ["urgent"] * n_urgent + ["non-urgent"] * (len(idx) - n_urgent)
        rng.shuffle(flags)
        for i, flag in zip(idx, flags, strict=True):
            urgencies[i] = flag
    hard = exact_share(n_items, hard_share, rng)

    items, texts = [], DistinctTexts(seed, typo_rate, "message")
    for i in range(n_items):
        variant, primary, secondary = _plan(rng, providers[i], urgencies[i], hard[i])
        _, text = texts.write(i, _message, rng, variant, primary, secondary)
        items.append({
            "id": f"triage-{i:05d}",
            "text": text,
            "provider": providers[i],
            "urgency": urgencies[i],
            "archetype": primary.name + (f":{variant}" if variant else ""),
        })
    return items


PROVIDER_TRIAGE = LabelTask(
    name="provider_triage",
    family="triage",
    description="Route a patient-portal message to physician, nurse, pharmacist or scheduling.",
    labels=PROVIDERS,
    label_field="provider",
    # Short on purpose: the prompt is most of every training token. It still names each role's
    # remit and the mixed-concern rule, which the base model cannot otherwise know.
    instruction=(
        "Triage this patient portal message to the care-team role that should handle it: "
        "physician (new or worse symptoms, results, medication changes), nurse (wounds, "
        "post-op checks, home readings, injections), pharmacist (refills, interactions, "
        "dosing) or scheduling (appointments, forms, referrals, billing). With several "
        "concerns, pick the most clinically demanding role."
    ),
    build_items=generate_messages,
    aliases={
        "physician": ("doctor", "doctors", "md", "provider", "physicians", "pcp"),
        "nurse": ("rn", "nursing", "nurses"),
        "pharmacist": ("pharmacy", "pharmacists", "pharmd"),
        "scheduling": ("front desk", "scheduler", "schedulers", "scheduling staff",
                       "front office", "receptionist"),
    },
    stratify_fields=("provider", "urgency"),
)

URGENCY_TRIAGE = LabelTask(
    name="urgency_triage",
    family="triage",
    description="Decide whether a patient-portal message needs action today (urgent) or not.",
    labels=URGENCIES,
    label_field="urgency",
    instruction=(
        "Triage this patient portal message: urgent if the care team should act today "
        "(possible emergency, infection after surgery, dangerous home readings, out of or "
        "double-dosed high-risk medication, time-critical treatment visit at risk), else "
        "non-urgent. Judge the content, not the tone; the most urgent concern decides."
    ),
    build_items=generate_messages,
    aliases={
        "non-urgent": ("not urgent", "nonurgent", "non urgent", "not-urgent", "routine",
                       "non-emergent", "not emergent", "not an emergency"),
        "urgent": ("emergent", "urgently", "emergency"),
    },
    stratify_fields=("provider", "urgency"),
)
