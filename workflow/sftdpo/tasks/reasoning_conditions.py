"""The condition table of the clinical case vignettes (:mod:`sftdpo.tasks.reasoning`):
``CONDITIONS`` and the next steps ``STEPS``, read from ``data/reasoning.yaml`` on import and
checked (a malformed entry stops the import, naming it), with the functions that compute a
condition's coherent lab values (``compute:``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sftdpo.tasks.tables import Table

MODES = ("auto", "found", "ob")
VITALS = ("t", "hr", "rr", "sbp", "dbp", "spo2")


@dataclass
class Condition:
    """One condition of the table (an entry of ``conditions`` in ``data/reasoning.yaml``,
    whose header describes the fields and the templates). Texts are templates
    (``toolkit.fill``); a leading tag keeps an entry for some patients only (see
    ``_for_patient``); a sign's leading ``is:`` makes it part of "<He> is ..." (appearance); a
    mimic's leading ``exam:`` or ``test:`` puts it with the examination or the results instead
    of the history."""

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


_COMPUTE = {"abg": _abg, "dka": _dka, "hhs": _hhs, "salicylate": _salicylate}


def _compute(spec, where: str) -> Callable[[random.Random], dict[str, str]]:
    """A condition's ``compute``: a function name, or ``{function: abg, paco2: [lo, hi],
    hco3: [lo, hi]}``."""
    given, spec = spec, {"function": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, dict) or spec.get("function") not in _COMPUTE:
        _TABLE.fail(where, f"expected one of {', '.join(_COMPUTE)} (or a mapping with "
                    f"function:), got {given!r}")
    name, args = spec["function"], {k: v for k, v in spec.items() if k != "function"}
    if name != "abg":
        if args:
            _TABLE.fail(where, f"{name} takes no arguments, got {', '.join(args)}")
        return _COMPUTE[name]
    if set(args) != {"paco2", "hco3"}:
        _TABLE.fail(where, f"abg takes paco2 and hco3, got {', '.join(args) or 'none'}")
    return _abg(**_TABLE.convert(args, dict[str, tuple[int, int]], where))


def _checked(conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
    """What the types cannot say: keys unique, look-alikes and steps known, modes and
    vitals named."""
    keys = [c.key for c in conditions]
    for i, cond in enumerate(conditions):
        where = f"conditions[{i}] (key {cond.key})"
        checks = (
            (keys.count(cond.key) == 1, "a key used twice"),
            (set(cond.lookalikes) <= set(keys) - {cond.key},
             f"lookalikes not among the other conditions: "
             f"{sorted(set(cond.lookalikes) - set(keys) - {cond.key})}"),
            (cond.step in STEPS and set(cond.step_distractors) <= set(STEPS),
             f"steps not in steps: "
             f"{sorted({cond.step, *cond.step_distractors} - set(STEPS))}"),
            (cond.mode in MODES, f"mode {cond.mode!r}; expected one of {', '.join(MODES)}"),
            (cond.sex in (None, "M", "F"), f"sex {cond.sex!r}; expected M or F"),
            (set(cond.vitals) <= set(VITALS),
             f"vitals {sorted(set(cond.vitals) - set(VITALS))}; expected some of "
             f"{', '.join(VITALS)}"),
        )
        for ok, problem in checks:
            if not ok:
                _TABLE.fail(where, problem)
    return conditions


_TABLE = Table("reasoning")
STEPS: dict[str, tuple[str, ...]] = _TABLE.get("steps", dict[str, tuple[str, ...]])
SIDES: tuple[dict[str, str], ...] = _TABLE.get("sides", tuple[dict[str, str], ...])
CONDITIONS: tuple[Condition, ...] = _checked(
    _TABLE.get("conditions", tuple[Condition, ...], compute=_compute))
_TABLE.done()

CONDITION_BY_KEY: dict[str, Condition] = {c.key: c for c in CONDITIONS}
