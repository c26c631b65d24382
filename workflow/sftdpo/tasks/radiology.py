"""Synthetic chest radiograph (and CT chest) report snippets labelled acute or non-acute.

Each item is a short impression/findings snippet (1-4 sentences, optionally headed by an
indication or history line), written from a list of *mentions*: a finding type and how the
report asserts it. The mentions alone fix the label; the wording never does.

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

from sftdpo.tasks.base import LabelTask
from sftdpo.tasks.toolkit import DistinctTexts, balanced_hard_plan, cap, check_settings, decap, fill

LABELS = ("acute", "non-acute")
ACUTE_FINDINGS = ("pneumothorax", "pneumonia", "effusion", "edema", "fracture", "free_air",
                  "tube_malposition", "pe")
POSITIVE_ASSERTIONS = ("present", "worse", "hedged")
ASSERTIONS = ("present", "worse", "hedged", "negated", "stable", "resolved", "chronic",
              "historical")
ACUTE_VARIANTS = ("hedged", "negation_scope", "buried", "worse", "history_present")
NON_ACUTE_VARIANTS = ("negation_scope", "no_definite", "historical", "stable", "resolved",
                      "chronic", "mimic")
# Relative frequency of each acute finding as the deciding one.
FINDING_WEIGHT = {"pneumothorax": 3, "pneumonia": 4, "effusion": 3, "edema": 3, "fracture": 2,
                  "free_air": 1, "tube_malposition": 1.5, "pe": 1.5}
MODALITY = {"free_air": "cxr", "tube_malposition": "cxr", "pe": "ct"}  # others: both

# Templates per acute finding and assertion. Historical lines open the item (indication).
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "pneumothorax": {
        "present": (
            "{Size} {side} apical pneumothorax.", "New {size} {side} pneumothorax.",
            "{Size} {side} PTX, new since {prior}.",
            "{Side} apical pneumothorax measuring {cm} cm.",
            "Large {side} pneumothorax with {contra}ward mediastinal shift, concerning for "
            "tension.",
            "{Size} {side} pneumothorax after {procedure}.",
        ),
        "worse": (
            "Interval increase in {size} {side} apical PTX.",
            "Enlarging {side} pneumothorax, now {cm} cm at the apex.",
            "{Side} pneumothorax has increased in size since {prior}.",
        ),
        "hedged": (
            "Possible tiny {side} apical pneumothorax.",
            "Subtle lucency at the {side} apex may represent a small pneumothorax.",
            "Cannot exclude a small {side} apical pneumothorax; consider expiratory view.",
            "Questionable thin {side} apical pleural line, possibly a tiny PTX.",
        ),
        "negated": (
            "No pneumothorax.", "No PTX.", "No pneumothorax following {procedure}.",
            "No evidence of pneumothorax.", "{Device} in place without pneumothorax.",
        ),
        "no_definite": ("No definite pneumothorax.", "No convincing pneumothorax."),
        "stable": (
            "Unchanged small {side} apical pneumothorax with {side} chest tube in place.",
            "Stable trace {side} apical PTX compared with {prior}.",
            "Decreasing {side} pneumothorax, now tiny.",
        ),
        "resolved": (
            "Interval resolution of the {side} pneumothorax.",
            "Previously seen {side} PTX has resolved.",
            "{Side} pneumothorax no longer seen after chest tube removal.",
        ),
        "historical": (
            "History: {side} pneumothorax last year.", "Indication: h/o {side} PTX, now CP.",
            "Hx spontaneous PTX {years} yrs ago.",
            "Indication: s/p {procedure}, r/o pneumothorax.",
        ),
    },
    "pneumonia": {
        "present": (
            "Focal consolidation in the {lobe}, consistent with pneumonia.",
            "{Lobe} airspace opacity concerning for pneumonia.",
            "Dense {lobe} consolidation with air bronchograms.",
            "New patchy {lobe} opacity, compatible with pneumonia in the appropriate clinical "
            "setting.",
            "Multifocal airspace opacities, consistent with multifocal pneumonia.",
            "{Lobe} pneumonia.", "Retrocardiac opacity concerning for pneumonia.",
        ),
        "worse": (
            "Worsening {lobe} consolidation.",
            "Interval increase in multifocal airspace opacities, concerning for worsening "
            "pneumonia.",
            "{Lobe} opacity has progressed since {prior}, now with air bronchograms.",
        ),
        "hedged": (
            "Cannot exclude early {lobe} pneumonia.",
            "{Lobe} opacity may represent atelectasis or early pneumonia.",
            "Possible developing infiltrate in the {lobe}.",
            "Subtle {lobe} opacity, atelectasis vs pneumonia.",
            "{Side} basilar opacity, atelectasis vs early pneumonia.",
            "Streaky {lobe} opacity; aspiration not excluded.",
        ),
        "negated": (
            "No focal consolidation.", "No focal airspace consolidation to suggest pneumonia.",
            "No infiltrate.", "No consolidation.",
        ),
        "no_definite": ("No definite focal consolidation.", "No definite pneumonia."),
        "stable": (
            "Improving {lobe} consolidation.",
            "Decreased {lobe} airspace opacity compared with {prior}.",
            "Unchanged {lobe} opacity compared with {prior}.",
        ),
        "resolved": (
            "Interval resolution of {lobe} consolidation.",
            "Previously seen {lobe} pneumonia has cleared.",
        ),
        "chronic": ("Chronic scarring in the {lobe} at the site of prior pneumonia.",),
        "historical": (
            "Indication: cough, r/o PNA.", "Hx: {lobe} pneumonia {months} months ago.",
            "Clinical history: fever, eval for pneumonia.", "Indication: recent PNA, f/u.",
        ),
    },
    "effusion": {
        "present": (
            "New {size} {side} pleural effusion.", "{Size} {side} pleural effusion.",
            "{Size} bilateral pleural effusions.",
            "Blunting of the {side} costophrenic angle, compatible with a small effusion.",
            "{Size} {side} effusion with adjacent compressive atelectasis.",
        ),
        "worse": (
            "Enlarging {side} pleural effusion, now {size}.",
            "Interval increase in the {side} effusion.",
            "{Side} effusion has increased since {prior}.",
        ),
        "hedged": (
            "Possible small {side} pleural effusion.",
            "Blunting of the {side} costophrenic angle may represent a small effusion.",
            "Small {side} effusion not excluded.",
        ),
        "negated": ("No pleural effusion.", "No effusion.", "Costophrenic angles are sharp."),
        "no_definite": ("No definite pleural effusion.",),
        "stable": (
            "Stable small {side} pleural effusion.", "Unchanged {size} {side} effusion.",
            "Persistent small {side} effusion, similar to {prior}.",
            "Decreased {side} pleural effusion, now small.",
        ),
        "resolved": (
            "Interval resolution of the {side} effusion.",
            "{Side} effusion has resolved following thoracentesis.",
        ),
        "chronic": (
            "Chronic loculated {side} pleural effusion with pleural thickening.",
            "Chronic {side} pleural thickening and blunting.",
        ),
        "historical": (
            "Hx: recurrent {side} effusion s/p thoracentesis.",
            "Indication: f/u {side} pleural effusion.",
        ),
    },
    "edema": {
        "present": (
            "Pulmonary edema.", "Interstitial pulmonary edema.",
            "Pulmonary vascular congestion with mild interstitial edema.",
            "Perihilar haziness and Kerley B lines, consistent with interstitial edema.",
            "Diffuse alveolar edema, likely cardiogenic.",
        ),
        "worse": (
            "Worsening pulmonary edema.", "Increased interstitial opacities, likely worsening "
            "edema.", "Vascular congestion has increased since {prior}.",
        ),
        "hedged": (
            "Hazy perihilar opacities, possibly mild edema.", "Possible mild interstitial edema.",
            "Mild interstitial prominence; early edema not excluded.",
        ),
        "negated": ("No pulmonary edema.", "No vascular congestion or edema.",
                    "No evidence of CHF."),
        "no_definite": ("No definite pulmonary edema.",),
        "stable": (
            "Unchanged mild interstitial edema.", "Improving pulmonary edema.",
            "Decreased vascular congestion compared with {prior}.",
        ),
        "resolved": ("Interval resolution of pulmonary edema.",
                     "Previously seen edema has cleared."),
        "historical": ("Hx: CHF, EF {ef}%.", "Indication: SOB, h/o CHF."),
    },
    "fracture": {
        "present": (
            "Acute nondisplaced fracture of the {side} {rib} rib.",
            "Displaced {side} {rib} and {rib2} rib fractures.", "Acute {side} {rib} rib fx.",
            "Acute fracture of the {side} clavicle.",
        ),
        "worse": ("Increased displacement of the {side} {rib} rib fracture.",),
        "hedged": (
            "Possible nondisplaced {side} {rib} rib fracture; correlate with point tenderness.",
            "Cortical irregularity of the {side} {rib} rib, cannot exclude nondisplaced fx.",
        ),
        "negated": ("No acute displaced rib fracture.", "No acute osseous abnormality.",
                    "No displaced fracture."),
        "no_definite": ("No definite acute fracture.",),
        "chronic": (
            "Healed {side} {rib} rib fx.", "Old healed {side} rib fractures.",
            "Chronic T{vert} compression deformity, unchanged.",
            "Remote healed {side} clavicle fracture.",
        ),
        "historical": ("Indication: fall, eval for rib fx.", "Indication: MVC, r/o fracture."),
    },
    "free_air": {
        "present": (
            "Free air under the right hemidiaphragm, consistent with pneumoperitoneum.",
            "Pneumoperitoneum.", "Large volume free intraperitoneal air.",
            "Lucency under both hemidiaphragms, compatible with free air.",
        ),
        "hedged": (
            "Possible free air under the right hemidiaphragm; recommend left lateral decubitus "
            "view.", "Cannot exclude a small amount of free air.",
        ),
        "negated": ("No free air under the diaphragm.", "No pneumoperitoneum."),
        "no_definite": ("No definite free air.",),
        "historical": ("Indication: abd pain, r/o free air.",),
    },
    "tube_malposition": {
        "present": (
            "ETT tip in the right mainstem bronchus; recommend retraction by {cm2} cm.",
            "Enteric tube coiled in the esophagus.",
            "Feeding tube tip in the {side} lower lobe bronchus; recommend removal.",
            "ETT tip at the level of the carina; recommend withdrawal by 2 cm.",
        ),
        "hedged": ("Enteric tube tip not well seen, possibly in the distal esophagus.",),
        "negated": (
            "ETT tip {cm3} cm above the carina.", "ETT in satisfactory position.",
            "Enteric tube courses below the diaphragm, tip in the stomach.",
            "Right IJ CVC tip at the cavoatrial junction.",
        ),
        "resolved": (
            "ETT has been retracted, tip now {cm3} cm above the carina.",
            "Enteric tube repositioned, tip now in the stomach.",
        ),
    },
    "pe": {
        "present": (
            "Filling defects in the {side} lower lobe segmental pulmonary arteries, consistent "
            "with acute PE.",
            "Acute pulmonary embolism involving the {side} main pulmonary artery.",
            "Saddle pulmonary embolus with RV/LV ratio > 1.",
            "Acute {side} lobar and segmental PE.",
        ),
        "hedged": (
            "Possible subsegmental filling defect in the {lobe}, equivocal for small PE; limited "
            "by motion.",
            "Questionable filling defect in a {lobe} segmental artery, artifact vs PE.",
        ),
        "negated": ("No pulmonary embolism.", "No PE to the segmental level.",
                    "No central or segmental PE."),
        "no_definite": ("No definite pulmonary embolism.",),
        "stable": ("Decreased clot burden in the {side} pulmonary arteries compared with "
                   "{prior}.",),
        "chronic": (
            "Eccentric wall-adherent thrombus in the {side} lower lobe artery, consistent with "
            "chronic PE.",
            "Web in the {side} lower lobe pulmonary artery, sequela of prior PE.",
        ),
        "historical": ("Hx: PE on apixaban, now SOB.", "Indication: CP, r/o PE."),
    },
}

# Findings that are never acute, whatever is said of them (assertion ``present``).
MIMICS: dict[str, tuple[str, ...]] = {
    "atelectasis": ("Bibasilar subsegmental atelectasis.", "Mild {side} basilar atelectasis.",
                    "Linear atelectasis at the {side} base.",
                    "Low lung volumes with bibasilar atelectasis."),
    "cardiomegaly": ("Stable mild cardiomegaly.", "Cardiomegaly, unchanged.",
                     "Enlarged cardiac silhouette, stable."),
    "scarring": ("Biapical pleural-parenchymal scarring.", "{Lobe} scarring, unchanged."),
    "granuloma": ("Calcified granuloma in the {lobe}.",
                  "Calcified granulomas, sequela of prior granulomatous disease."),
    "emphysema": ("Hyperinflated lungs, consistent with COPD.", "Emphysematous changes.",
                  "Centrilobular emphysema."),
    "postsurgical": ("Stable post-surgical changes.", "Median sternotomy wires and CABG clips.",
                     "Post-surgical changes of {side} upper lobectomy.",
                     "Sternotomy wires intact."),
    "device": ("{Device} in expected position.",
               "Left chest wall pacemaker with leads in the RA and RV.",
               "Right chest port, catheter tip in the SVC."),
    "degenerative": ("Degenerative changes of the thoracic spine.",
                     "Mild degenerative changes of both shoulders."),
    "nodule": ("Stable {mm} mm {lobe} nodule.", "{mm} mm {lobe} nodule, unchanged since {year}."),
    "aorta": ("Tortuous, calcified thoracic aorta.", "Aortic atherosclerotic calcification."),
    "hernia": ("Small hiatal hernia.",),
}
# Normal statements and the findings they would contradict.
NORMALS = (
    ("Heart size is normal.", {"cardiomegaly"}),
    ("Cardiomediastinal silhouette is within normal limits.", {"cardiomegaly", "aorta"}),
    ("Normal heart size.", {"cardiomegaly"}),
    ("Lungs are clear.",
     {"pneumonia", "edema", "atelectasis", "scarring", "emphysema", "pneumothorax"}),
    ("Lungs are well expanded and clear.",
     {"pneumonia", "edema", "atelectasis", "scarring", "emphysema", "pneumothorax", "effusion"}),
    ("Mediastinal contours are unremarkable.", {"aorta"}),
)
GLOBAL_NEGATIONS = ("No acute cardiopulmonary process.", "No acute cardiopulmonary abnormality.",
                    "No acute intrathoracic process.", "No acute findings.")
# One sentence negating several acute findings.
COMBINED_NEGATIONS = (
    ("No focal consolidation, pleural effusion, or pneumothorax.",
     ("pneumonia", "effusion", "pneumothorax")),
    ("No consolidation, effusion or PTX.", ("pneumonia", "effusion", "pneumothorax")),
    ("No pneumothorax or effusion.", ("pneumothorax", "effusion")),
    ("No edema, effusion, or pneumothorax.", ("edema", "effusion", "pneumothorax")),
    ("No focal airspace disease, effusion, or pneumothorax.",
     ("pneumonia", "effusion", "pneumothorax")),
    ("No pneumothorax or focal consolidation.", ("pneumothorax", "pneumonia")),
)
# Indications that name no finding (history lines that do are ``historical`` mentions).
INDICATIONS = {"cxr": ("Indication: SOB.", "Indication: cough and fever x3d.",
                       "Indication: s/p central line placement.", "Indication: CP.",
                       "Hx: {age}{sex}, hypoxia.", "Indication: preop.",
                       "Indication: ETT placement.", "Indication: fall.",
                       "Indication: tachypnea, desaturation.", "Hx: {age}{sex}, weakness."),
               "ct": ("Indication: CP, SOB.", "Indication: hypoxia.",
                      "Hx: {age}{sex}, pleuritic chest pain.", "Indication: hemoptysis.")}
INDICATION_SHARE = 0.35
HEADERS = {"cxr": ("IMPRESSION: ", "FINDINGS: ", "CXR: ", "Portable AP chest: ",
                   "PA and lateral chest: ", "Impression: "),
           "ct": ("CT chest: ", "CTA chest: ", "IMPRESSION: ", "CT chest impression: ")}
SCOPE_JOINERS = ("; ", ", but ", ". ", "; however, ")

SIDES = ("right", "left")
SIZES = ("tiny", "small", "small", "moderate", "large")
EFFUSION_SIZES = ("trace", "small", "small", "moderate", "large")
LOBES = ("right upper lobe", "right middle lobe", "right lower lobe", "left upper lobe",
         "left lower lobe", "lingula", "RUL", "RML", "RLL", "LUL", "LLL")
PRIORS = ("prior", "the prior study", "yesterday", "{date}", "the {date} exam",
          "this morning's film")
PROCEDURES = ("line placement", "right IJ line placement", "thoracentesis",
              "chest tube removal", "CT-guided lung biopsy", "left subclavian line placement")
DEVICES = ("Right IJ central line", "Left PICC", "Right chest tube", "Left subclavian CVC",
           "Dual-lead pacemaker")
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
