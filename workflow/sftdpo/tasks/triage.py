"""Synthetic patient-portal messages with two exact labels: who handles it, and how fast.

Every message is written from one archetype (a kind of request, such as "refill request" or
"fever after surgery"; ``ARCHETYPES``, with the slots and the message frame in
``data/triage.yaml``). The archetype alone fixes both labels; the wording never does.

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
from sftdpo.tasks.tables import Table
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
REGISTERS = ("polite", "terse", "rambling", "anxious")


def _fields(template: str) -> set[str]:
    return set(re.findall(r"\{([^{}]*)\}", template))


def _checked(archetypes: tuple[Archetype, ...]) -> tuple[Archetype, ...]:
    """What the types cannot say: names unique, labels known, every template field a voice
    field, a slot, a generated value or a value every case of the archetype gives."""
    names = [a.name for a in archetypes]
    known = set(VOICE_SELF) | set(SLOTS) | set(GENERATED)
    for where, texts in [(f"slots.{k}", v) for k, v in SLOTS.items()]:
        for text in texts:
            if _fields(text) - known:
                _TABLE.fail(where, f"unknown fields {sorted(_fields(text) - known)} in {text!r}")
    for i, arch in enumerate(archetypes):
        where = f"archetypes[{i}] (name {arch.name})"
        if names.count(arch.name) > 1:
            _TABLE.fail(where, "a name used twice")
        if arch.provider not in PROVIDERS or arch.urgency not in URGENCIES:
            _TABLE.fail(where, f"provider {arch.provider!r}, urgency {arch.urgency!r}; expected "
                        f"one of {', '.join(PROVIDERS)} and one of {', '.join(URGENCIES)}")
        given = known | set.intersection(*(set(case) for case in arch.cases))
        for text in arch.templates + tuple(v for case in arch.cases for v in case.values()):
            if _fields(text) - given:
                _TABLE.fail(where, f"unknown fields {sorted(_fields(text) - given)} in {text!r}")
    return archetypes


def _check_frame() -> None:
    """Openers and closers for every register, writers' names for both pronouns."""
    for section, table in (("openers", OPENERS), ("closers", CLOSERS)):
        if set(table) != {*REGISTERS, "calm", "alarmed"}:
            _TABLE.fail(section, f"registers {', '.join(table)}; expected "
                        f"{', '.join(REGISTERS)}, calm and alarmed")
    if set(NAMES) != {"she", "he"} or {pron for _, pron in RELATIVES} - {"she", "he"}:
        _TABLE.fail("names, relatives", "expected the pronouns she and he")


_TABLE = Table("triage")
SLOTS: dict[str, tuple[str, ...]] = _TABLE.get("slots", dict[str, tuple[str, ...]])
VOICE_SELF: dict[str, str] = _TABLE.get("voice_self", dict[str, str])
ARCHETYPES: tuple[Archetype, ...] = _checked(_TABLE.get("archetypes", tuple[Archetype, ...]))
RELATIVES: tuple[tuple[str, str], ...] = _TABLE.get("relatives", tuple[tuple[str, str], ...])
NAMES: dict[str, tuple[str, ...]] = _TABLE.get("names", dict[str, tuple[str, ...]])
FAMILY_INTROS: tuple[str, ...] = _TABLE.get("family_intros", tuple[str, ...])
OPENERS: dict[str, tuple[str, ...]] = _TABLE.get("openers", dict[str, tuple[str, ...]])
FILLERS: tuple[str, ...] = _TABLE.get("fillers", tuple[str, ...])
CLOSERS: dict[str, tuple[str, ...]] = _TABLE.get("closers", dict[str, tuple[str, ...]])
NEGATED_RED_FLAGS: tuple[str, ...] = _TABLE.get("negated_red_flags", tuple[str, ...])
DISTRACTORS: tuple[str, ...] = _TABLE.get("distractors", tuple[str, ...])
CONNECTORS: tuple[str, ...] = _TABLE.get("connectors", tuple[str, ...])
ABBREVIATIONS: tuple[tuple[str, str], ...] = _TABLE.get("abbreviations",
                                                        tuple[tuple[str, str], ...])
_TABLE.done()
_check_frame()
RANK = {p: i for i, p in enumerate(PROVIDERS)}  # lower = more clinically demanding


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
    # Template family: split.by: group keeps each in one split (test = unseen families).
    group_field="archetype",
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
    # Template family: split.by: group keeps each in one split (test = unseen families).
    group_field="archetype",
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
