"""Patient-portal messages: weight gain in heart failure, home glucose, after surgery,
warfarin."""

from __future__ import annotations

import random

from sftdpo.tasks.summary_scenarios.case import NOTES_TABLE, _c, _Case, _details, _Patient

_PHARMACIES, _OPEN, _CLOSE, _DOCS, _NAMES = (
    NOTES_TABLE.get(name, tuple[str, ...])
    for name in ("pharmacies", "message_openers", "message_closers", "doctors", "names"))


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
