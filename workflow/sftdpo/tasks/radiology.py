"""Synthetic chest radiograph (and CT chest) report snippets labelled acute or non-acute.

Each item is a short impression/findings snippet (1-4 sentences, optionally headed by an
indication or history line), written from a list of *mentions*: a finding type and how the
report asserts it. The mentions alone fix the label; the wording never does. The rule is
written here; the wording (templates per finding and assertion, mimics, normal statements,
indications, slot values) is in ``data/radiology.yaml``.

The rule. An item is ``acute`` when at least one **acute finding** is asserted as **present
now** or **hedged**; otherwise it is ``non-acute``.

* Acute findings (``ACUTE_FINDINGS``): pneumothorax, consolidation/pneumonia, pleural
  effusion, pulmonary edema or vascular congestion, acute fracture (rib, clavicle), free
  intraperitoneal air, a malpositioned tube or line, and pulmonary embolism (CT).
* Present now (assertion ``present`` or ``worse``): stated as seen on this study, whether new,
  enlarging, worse, or with no comparison given ("Small left pleural effusion." counts).
* Hedged (``hedged``): raised as a possibility ("cannot exclude", "possible", "may represent",
  "A vs B", "not excluded"). Hedged counts as acute: a finding a radiologist puts in the
  differential warrants follow-up.
* Non-acute: negated findings (``negated``, including "no definite X" and "without X");
  findings unchanged, stable, improving or decreased versus a prior study (``stable``);
  resolved findings (``resolved``); old, healed or chronic forms (``chronic``: healed rib
  fracture, chronic PE, chronic loculated effusion); findings named only in the indication or
  history (``historical``: "h/o PTX", "r/o pneumonia"); and findings that are not on the acute
  list at all, such as atelectasis, scarring, cardiomegaly, granulomas, emphysema, nodules,
  post-surgical changes and devices in expected position (``MIMICS``, assertion ``present``).

Hard items (share ``hard_share``) are built to trip a keyword matcher. Acute: ``hedged``,
``negation_scope`` (a negation list followed by a present finding in the same sentence: "No
pneumothorax; small left effusion."), ``buried`` (the acute finding after stable or chronic
ones), ``worse`` (comparison language that reports worsening: "Interval increase in small
right apical PTX."), ``history_present`` (a history line, then a present finding). Non-acute:
``negation_scope`` (negations followed by a mimic), ``no_definite``, ``historical``,
``stable``, ``resolved``, ``chronic`` and ``mimic``. Easy items: one plainly present acute
finding with normal statements, or a normal report.

Item fields: ``id``, ``text``, ``label``, ``finding`` (the finding that decides the item, or
``none`` for a normal report), ``assertion`` (its assertion), ``variant`` (``easy`` or the hard
variant), ``hard``, ``modality`` (``cxr`` or ``ct``) and ``mentions`` (every mention as
``finding:assertion``, from which the rule recomputes the label).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from sftdpo.tasks.base import LabelTask
from sftdpo.tasks.tables import Table
from sftdpo.tasks.toolkit import DistinctTexts, balanced_hard_plan, cap, check_settings, decap, fill

LABELS = ("acute", "non-acute")
ACUTE_FINDINGS = ("pneumothorax", "pneumonia", "effusion", "edema", "fracture", "free_air",
                  "tube_malposition", "pe")
POSITIVE_ASSERTIONS = ("present", "worse", "hedged")
ACUTE_VARIANTS = ("hedged", "negation_scope", "buried", "worse", "history_present")
NON_ACUTE_VARIANTS = ("negation_scope", "no_definite", "historical", "stable", "resolved",
                      "chronic", "mimic")
# Relative frequency of each acute finding as the deciding one.
FINDING_WEIGHT = {"pneumothorax": 3, "pneumonia": 4, "effusion": 3, "edema": 3, "fracture": 2,
                  "free_air": 1, "tube_malposition": 1.5, "pe": 1.5}
MODALITY = {"free_air": "cxr", "tube_malposition": "cxr", "pe": "ct"}  # others: both

INDICATION_SHARE = 0.35


@dataclass(frozen=True)
class _Statement:
    """A sentence about several findings (a normal statement, a combined negation)."""

    text: str
    findings: tuple[str, ...]


_TABLE = Table("radiology")
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = _TABLE.get(
    "templates", dict[str, dict[str, tuple[str, ...]]])
MIMICS: dict[str, tuple[str, ...]] = _TABLE.get("mimics", dict[str, tuple[str, ...]])
# (statement, the findings it contradicts) and (negation, the findings it negates)
NORMALS: tuple[tuple[str, set[str]], ...] = tuple(
    (n.text, set(n.findings)) for n in _TABLE.get("normals", tuple[_Statement, ...]))
GLOBAL_NEGATIONS: tuple[str, ...] = _TABLE.get("global_negations", tuple[str, ...])
COMBINED_NEGATIONS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (n.text, n.findings) for n in _TABLE.get("combined_negations", tuple[_Statement, ...]))
INDICATIONS: dict[str, tuple[str, ...]] = _TABLE.get("indications", dict[str, tuple[str, ...]])
HEADERS: dict[str, tuple[str, ...]] = _TABLE.get("headers", dict[str, tuple[str, ...]])
SCOPE_JOINERS: tuple[str, ...] = _TABLE.get("scope_joiners", tuple[str, ...])
SIDES, SIZES, LOBES, PRIORS, PROCEDURES, DEVICES = (
    _TABLE.get(name, tuple[str, ...])
    for name in ("sides", "sizes", "lobes", "priors", "procedures", "devices"))
_TABLE.done()

ORDINALS = {n: f"{n}{'st' if n == 1 else 'nd' if n == 2 else 'rd' if n == 3 else 'th'}"
            for n in range(1, 13)}


def is_acute(finding: str, assertion: str) -> bool:
    """Whether one mention makes an item acute under the module's rule."""
    return finding in ACUTE_FINDINGS and assertion in POSITIVE_ASSERTIONS


def label_of(mentions: list[str]) -> str:
    """The label the rule gives an item's ``mentions`` (``finding:assertion`` strings)."""
    acute = any(is_acute(*m.split(":")) for m in mentions)
    return LABELS[0] if acute else LABELS[1]


def _slots(rng: random.Random) -> dict[str, str]:
    side = rng.choice(SIDES)
    size = rng.choice(SIZES)
    lobe = rng.choice(LOBES)
    rib = rng.randint(3, 10)
    date = f"{rng.randint(1, 12)}/{rng.randint(1, 28)}"
    device = rng.choice(DEVICES)
    return {
        "side": side, "Side": side.capitalize(), "contra": "left" if side == "right" else "right",
        "size": size, "Size": size.capitalize(), "lobe": lobe, "Lobe": cap(lobe),
        "cm": f"{rng.choice((0.5, 1, 1.5, 2, 2.5, 3, 4)):g}", "cm2": str(rng.randint(1, 3)),
        "cm3": str(rng.randint(3, 5)), "rib": ORDINALS[rib], "rib2": ORDINALS[rib + 1],
        "vert": str(rng.randint(6, 12)), "prior": rng.choice(PRIORS).format(date=date),
        "procedure": rng.choice(PROCEDURES), "Device": device, "device": device.lower(),
        "years": str(rng.randint(2, 20)), "months": str(rng.randint(2, 11)),
        "ef": str(rng.choice(range(20, 45, 5))), "mm": str(rng.randint(4, 9)),
        "year": str(rng.randint(2015, 2023)),
    }


def _check_tables() -> None:
    """What the types cannot say: templates for exactly the acute findings, under known
    assertions, over known slots; mimics apart from them; statements about known findings;
    indications and headers for both modalities."""
    kinds = (*POSITIVE_ASSERTIONS, "negated", "no_definite", "stable", "resolved", "chronic",
             "historical")
    slots = set(_slots(random.Random(0)))
    if set(TEMPLATES) != set(ACUTE_FINDINGS):
        _TABLE.fail("templates", f"findings {', '.join(TEMPLATES)}; expected "
                    f"{', '.join(ACUTE_FINDINGS)}")
    if set(MIMICS) & set(ACUTE_FINDINGS):
        _TABLE.fail("mimics", f"acute findings {sorted(set(MIMICS) & set(ACUTE_FINDINGS))}")
    texts = [(f"mimics.{m}", t) for m, ts in MIMICS.items() for t in ts]
    for finding, by_kind in TEMPLATES.items():
        if set(by_kind) - set(kinds):
            _TABLE.fail(f"templates.{finding}", f"assertions {sorted(set(by_kind) - set(kinds))}"
                        f"; expected some of {', '.join(kinds)}")
        texts += [(f"templates.{finding}.{k}", t) for k, ts in by_kind.items() for t in ts]
    for where, text in texts:
        unknown = set(re.findall(r"\{([^{}]*)\}", text)) - slots
        if unknown:
            _TABLE.fail(where, f"unknown slots {sorted(unknown)} in {text!r}")
    findings = set(ACUTE_FINDINGS) | set(MIMICS)
    for section, table in (("normals", NORMALS), ("combined_negations", COMBINED_NEGATIONS)):
        for text, named in table:
            if set(named) - findings:
                _TABLE.fail(section, f"unknown findings {sorted(set(named) - findings)} for "
                            f"{text!r}")
    for section, table in (("indications", INDICATIONS), ("headers", HEADERS)):
        if set(table) != {"cxr", "ct"}:
            _TABLE.fail(section, f"modalities {', '.join(table)}; expected cxr and ct")


_check_tables()


def _fill(template: str, rng: random.Random, fixed: dict[str, str]) -> str:
    text = fill(template, rng, _slots(rng) | fixed)
    if "effusion" in text:  # effusions are "trace", not "tiny"
        text = re.sub(r"\b([Tt])iny\b", lambda m: "Trace" if m.group(1) == "T" else "trace",
                      text)
    return text


class _Report:
    """Mentions collected for one item; a finding's current status is stated once."""

    def __init__(self, rng: random.Random, modality: str):
        self.rng, self.modality = rng, modality
        self.history: list[str] = []
        self.sentences: list[str] = []
        self.mentions: list[str] = []
        self.used: set[str] = set()
        slots = _slots(rng)  # one procedure and device per report
        self.fixed = {k: slots[k] for k in ("procedure", "Device", "device")}

    def allowed(self, finding: str) -> bool:
        return finding not in self.used and MODALITY.get(finding, self.modality) == self.modality

    def phrase(self, finding: str, assertion: str) -> str:
        """One filled template; records the mention (history lines go first)."""
        key = "negated" if assertion == "no_definite" else assertion
        pool = MIMICS[finding] if finding in MIMICS else TEMPLATES[finding][assertion]
        text = _fill(self.rng.choice(pool), self.rng, self.fixed)
        self.mentions.append(f"{finding}:{key}")
        if assertion != "historical":
            self.used.add(finding)
        return text

    def add(self, finding: str, assertion: str) -> None:
        text = self.phrase(finding, assertion)
        (self.history if assertion == "historical" else self.sentences).append(text)

    def add_fillers(self, k: int, *, global_ok: bool) -> None:
        """Up to ``k`` normal statements or negations of findings not yet stated."""
        for _ in range(k):
            choice = self.rng.random()
            if choice < 0.3:
                combos = [(s, fs) for s, fs in COMBINED_NEGATIONS
                          if all(self.allowed(f) for f in fs)]
                if combos:
                    text, findings = self.rng.choice(combos)
                    self.sentences.append(text)
                    self.mentions.extend(f"{f}:negated" for f in findings)
                    self.used.update(findings)
                    continue
            if choice < 0.6:
                free = [f for f in ACUTE_FINDINGS if self.allowed(f)]
                if free:
                    self.add(self.rng.choice(free), "negated")
                    continue
            if choice < 0.75 and global_ok and "global" not in self.used:
                self.sentences.append(self.rng.choice(GLOBAL_NEGATIONS))
                self.mentions.append("global:negated")
                self.used.add("global")
                continue
            normals = [(s, c) for s, c in NORMALS
                       if s not in self.sentences and not c & self.used]
            if normals:
                text, conflicts = self.rng.choice(normals)
                self.sentences.append(text)
                self.mentions.append("normal:present")
                self.used.update(conflicts)  # no "Lungs are clear." then atelectasis

    def add_mimics(self, k: int) -> None:
        for _ in range(k):
            free = [m for m in MIMICS if m not in self.used]
            self.add(self.rng.choice(free), "present")

    def text(self, header_share: float = 0.5) -> str:
        rng = self.rng
        body = self.sentences
        if len(body) >= 2 and rng.random() < 0.2:
            body = [f"{i}. {s}" for i, s in enumerate(body, 1)]
        joined = " ".join(body)
        if rng.random() < header_share:
            joined = rng.choice(HEADERS[self.modality]) + joined
        history = self.history
        if not history and rng.random() < INDICATION_SHARE:
            history = [rng.choice(INDICATIONS[self.modality]).format(
                age=rng.randint(19, 94), sex=rng.choice("MF"))]
        parts = history + [joined]
        return " ".join(parts)


def _choose_finding(rng: random.Random, assertion: str) -> str:
    """An acute finding that has templates for ``assertion``, by ``FINDING_WEIGHT``."""
    pool = [f for f in ACUTE_FINDINGS if assertion in TEMPLATES[f]]
    return rng.choices(pool, weights=[FINDING_WEIGHT[f] for f in pool])[0]


def _modality_for(rng: random.Random, finding: str | None) -> str:
    if finding in MODALITY:
        return MODALITY[finding]
    return "ct" if rng.random() < 0.1 else "cxr"


def _acute_item(rng: random.Random, variant: str) -> tuple[_Report, str, str]:
    assertion = {"hedged": "hedged", "worse": "worse"}.get(variant, "present")
    finding = _choose_finding(rng, assertion)
    rep = _Report(rng, _modality_for(rng, finding))
    if variant == "easy":
        rep.add(finding, assertion)
        rep.add_fillers(rng.choice((0, 1, 1, 2)), global_ok=False)
    elif variant in ("hedged", "worse"):
        if rng.random() < 0.4:
            rep.add_mimics(1)
        rep.add(finding, assertion)
        rep.add_fillers(rng.choice((0, 1, 2)), global_ok=False)
        if rng.random() < 0.5:
            rng.shuffle(rep.sentences)
    elif variant == "negation_scope":
        rep.used.add(finding)  # keep the negation off the deciding finding
        combos = [(s, fs) for s, fs in COMBINED_NEGATIONS if finding not in fs]
        if combos and rng.random() < 0.5:
            neg, findings = rng.choice(combos)
            rep.mentions.extend(f"{f}:negated" for f in findings)
            rep.used.update(findings)
        else:
            other = rng.choice([f for f in ACUTE_FINDINGS if rep.allowed(f)])
            neg = rep.phrase(other, "negated")
        rep.used.discard(finding)
        present = rep.phrase(finding, "present")
        joiner = rng.choice(SCOPE_JOINERS)
        sentence = neg[:-1] + joiner + (present if joiner == ". " else decap(present))
        rep.sentences.append(sentence)
        rep.add_fillers(rng.choice((0, 0, 1)), global_ok=False)
    elif variant == "buried":
        first = rng.random()
        if first < 0.5:
            rep.add_mimics(rng.choice((1, 2)))
        else:
            others = [f for f in ACUTE_FINDINGS if f != finding and rep.allowed(f)
                      and ({"stable", "resolved", "chronic"} & set(TEMPLATES[f]))]
            other = rng.choice(others)
            kind = rng.choice([a for a in ("stable", "resolved", "chronic")
                               if a in TEMPLATES[other]])
            rep.add(other, kind)
            if rng.random() < 0.5:
                rep.add_mimics(1)
        rep.add(finding, "present")
    elif variant == "history_present":
        past = rng.choice([f for f in ACUTE_FINDINGS if "historical" in TEMPLATES[f]
                           and MODALITY.get(f, rep.modality) == rep.modality])
        rep.add(past, "historical")
        rep.add(finding, rng.choice(("present", "present", "worse"))
                if "worse" in TEMPLATES[finding] else "present")
        rep.add_fillers(rng.choice((0, 1, 1)), global_ok=False)
    else:
        raise AssertionError(variant)
    return rep, finding, assertion


def _non_acute_item(rng: random.Random, variant: str) -> tuple[_Report, str, str]:
    if variant == "easy":
        rep = _Report(rng, _modality_for(rng, None))
        rep.add_fillers(rng.choice((2, 2, 3)), global_ok=True)
        return rep, "none", "negated"
    if variant in ("mimic", "negation_scope"):
        rep = _Report(rng, _modality_for(rng, None))
        if variant == "negation_scope":
            combos = [s for s in COMBINED_NEGATIONS if all(rep.allowed(f) for f in s[1])]
            neg, findings = rng.choice(combos)
            rep.mentions.extend(f"{f}:negated" for f in findings)
            rep.used.update(findings)
            mimic = rng.choice(list(MIMICS))
            text = rep.phrase(mimic, "present")
            joiner = rng.choice(SCOPE_JOINERS)
            rep.sentences.append(neg[:-1] + joiner + (text if joiner == ". " else decap(text)))
        else:
            rep.add_mimics(rng.choice((1, 2)))
            mimic = rep.mentions[0].split(":")[0]
            rep.add_fillers(rng.choice((0, 1, 1)), global_ok=True)
        return rep, mimic, "present"
    key = variant  # no_definite, historical, stable, resolved or chronic
    finding = _choose_finding(rng, key)
    rep = _Report(rng, _modality_for(rng, finding))
    if variant == "historical":
        rep.add(finding, "historical")
        rep.add(finding, "negated")  # the report answers the clinical question
        rep.add_fillers(rng.choice((0, 1, 1, 2)), global_ok=True)
        return rep, finding, "historical"
    if rng.random() < 0.3:
        rep.add_mimics(1)
    rep.add(finding, key)
    rep.add_fillers(rng.choice((0, 1, 1, 2)), global_ok=True)
    if rng.random() < 0.5:
        rep.sentences.append(rep.sentences.pop(0))
    return rep, finding, "negated" if key == "no_definite" else key


def generate_reports(n_items: int, seed: int, hard_share: float = 0.4,
                     typo_rate: float = 0.02) -> list[dict]:
    """``n_items`` distinct report snippets, half ``acute`` and half ``non-acute`` (exact up to
    rounding), a share ``hard_share`` of them hard variants (exact up to rounding, split
    between the labels in proportion). Typos (``typo_rate`` per word, words holding a digit or
    written in capitals are left alone) come from a separate per-item generator, so the same
    seed gives the same reports and labels at every ``typo_rate``.
    """
    check_settings(n_items, hard_share=hard_share, typo_rate=typo_rate)
    rng = random.Random(seed)
    plan = balanced_hard_plan(rng, n_items, LABELS, hard_share)

    items, texts = [], DistinctTexts(seed, typo_rate, "report")
    for i, (label, hard) in enumerate(plan):
        variants = ACUTE_VARIANTS if label == LABELS[0] else NON_ACUTE_VARIANTS
        variant = rng.choice(variants) if hard else "easy"
        make = _acute_item if label == LABELS[0] else _non_acute_item
        (rep, finding, assertion), text = texts.write(i, make, rng, variant,
                                                      text_of=lambda made: made[0].text())
        assert label_of(rep.mentions) == label, (label, rep.mentions)
        items.append({
            "id": f"rad-{i:05d}", "text": text, "label": label, "finding": finding,
            "assertion": assertion, "variant": variant, "hard": hard,
            "modality": rep.modality, "mentions": rep.mentions,
        })
    return items


RADIOLOGY_FINDING = LabelTask(
    name="radiology_finding",
    # No group: findings are the label's cause and very unequal in size ("none" is a third of
    # the items), so a split by finding would test unseen findings on a skewed share.
    family="text_classification",
    description="Label a chest radiograph or CT chest report snippet acute or non-acute.",
    labels=LABELS,
    instruction=(
        "Label this chest imaging report acute if it reports an acute finding (pneumothorax, "
        "pneumonia/consolidation, pleural effusion, pulmonary edema, acute fracture, free air, "
        "malpositioned tube, PE) as present now or as possible/cannot exclude; otherwise "
        "non-acute. Negated, stable, improving, resolved, old/healed/chronic and history-only "
        "findings are non-acute."
    ),
    build_items=generate_reports,
    aliases={
        "acute": ("positive", "acute finding", "acute findings", "acute process"),
        "non-acute": ("nonacute", "non acute", "not acute", "no acute", "not an acute",
                      "negative", "normal", "unremarkable"),
    },
)
