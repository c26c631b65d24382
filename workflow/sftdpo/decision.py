"""The verdict per task and model: does DPO pay? A decision rule declared before the run.

Each task has one primary metric (``tasks.<name>.primary_metric``; default its headline, the
first metric it reports) and a minimum worthwhile difference delta (``tasks.<name>.margin``,
else ``decision.margins``, else the metric's default in ``data/margins.yaml``, where each
default's reason is written). The primary comparison is DPO against the matched-compute
control (SFT continued for the compute DPO took), or against SFT where the control is off.
Its interval (level 1 - alpha / K over the experiment's K primary hypotheses;
:mod:`sftdpo.stats`) decides:

* **better**: the interval lies above 0 (and, said apart, whether it also lies above delta:
  a gain that is surely worthwhile, or one that may be smaller than delta);
* **worse**: it lies below 0;
* **equivalent**: it lies inside (-delta, +delta): any difference is smaller than worthwhile;
* **inconclusive**: anything else. Then the decision also gives the smallest difference this
  test set could detect with the configured power, and about how many test items (and
  units) would detect delta: the interval's width shrinks as one over the square root of
  the items, so n x (detectable / delta)^2. With too few units for the level (C units give
  no P below 2 / 2^C) nothing is detectable, and the decision gives the units needed first.

A non-significant difference is never read as "no difference": only an interval inside the
margin says that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from .metrics import LIKELIHOOD_PREFIX
from .stats import units_to_reach

MARGINS_FILE = Path(__file__).parent / "data" / "margins.yaml"
DECISION_COLUMNS = ("model", "task", "metric", "comparison", "margin", "a", "b", "diff",
                    "ci_low", "ci_high", "ci_level", "p_value", "p_adjusted", "n_primary",
                    "verdict", "worthwhile", "detectable", "items_needed", "units_needed",
                    "units_to_reach_level",
                    "n_items", "n_units", "unit", "n_seeds", "dpo_minus_sft",
                    "dpo_minus_sft_ci_low", "dpo_minus_sft_ci_high", "extra_flops_ratio",
                    "pipeline_flops_ratio")


def default_margins() -> dict[str, dict]:
    """metric -> {delta, reason}, from ``data/margins.yaml``."""
    return yaml.safe_load(MARGINS_FILE.read_text(encoding="utf-8"))


def margin_for(metric: str, task_spec: dict, configured: dict | None = None) -> float:
    """The task's minimum worthwhile difference on ``metric``: its own ``margin``, else the
    config's ``decision.margins`` entry, else the default (a likelihood_ metric takes its
    plain metric's)."""
    if task_spec.get("margin") is not None:
        return float(task_spec["margin"])
    plain = metric.removeprefix(LIKELIHOOD_PREFIX)
    for name in (metric, plain):
        if configured and name in configured:
            return float(configured[name])
    defaults = default_margins()
    if plain not in defaults:
        raise KeyError(f"no default margin for {metric!r}; give the task a margin")
    return float(defaults[plain]["delta"])


def verdict(ci_low: float, ci_high: float, margin: float) -> str:
    """better, worse, equivalent or inconclusive, from the interval and the margin."""
    if ci_low > 0:
        return "better"
    if ci_high < 0:
        return "worse"
    if -margin < ci_low and ci_high < margin:
        return "equivalent"
    return "inconclusive"


def worthwhile(ci_low: float, ci_high: float, margin: float) -> str:
    """For a better verdict, whether the gain is worth its margin: "yes" (the interval lies
    above delta), "no" (below it), "uncertain"; "" otherwise."""
    if ci_low <= 0:
        return ""
    if ci_low >= margin:
        return "yes"
    return "no" if ci_high < margin else "uncertain"


def needed(count: int, detectable: float, margin: float) -> float:
    """About how many of ``count`` (items or units) would make ``margin`` detectable; NaN
    where nothing is detectable with these units (too few for the level): it cannot be
    scaled from them."""
    if math.isinf(detectable):
        return math.nan
    if detectable <= 0:
        return count
    return math.ceil(count * (detectable / margin) ** 2)


@dataclass(frozen=True)
class Decision:
    """The primary row of a model and task's stats table, read against its margin; beside it
    DPO minus SFT on the same metric (where the primary is against the control) and DPO's
    extra cost (a ``dpo_costs`` row of :mod:`sftdpo.compute`)."""

    model: str
    task: str
    row: pd.Series
    margin: float
    n_primary: int
    versus_sft: pd.Series | None = None
    cost: Mapping | None = None

    @property
    def verdict(self) -> str:
        return verdict(self.row["ci_low"], self.row["ci_high"], self.margin)

    def record(self) -> dict:
        row = self.row
        return {
            "model": self.model, "task": self.task, "metric": row["metric"],
            "comparison": row["comparison"], "margin": self.margin,
            **{key: row[key] for key in ("a", "b", "diff", "ci_low", "ci_high", "ci_level",
                                         "p_value", "p_adjusted")},
            "n_primary": self.n_primary, "verdict": self.verdict,
            "worthwhile": worthwhile(row["ci_low"], row["ci_high"], self.margin),
            "detectable": row["detectable"],
            "items_needed": needed(int(row["n_items"]), row["detectable"], self.margin),
            "units_needed": needed(int(row["n_units"]), row["detectable"], self.margin),
            "units_to_reach_level": units_to_reach(1 - row["ci_level"]),
            **{key: row[key] for key in ("n_items", "n_units", "unit", "n_seeds")},
            **{f"dpo_minus_sft{suffix}": (math.nan if self.versus_sft is None
                                          else self.versus_sft[key])
               for suffix, key in (("", "diff"), ("_ci_low", "ci_low"),
                                   ("_ci_high", "ci_high"))},
            **{key: math.nan if self.cost is None else self.cost[key]
               for key in ("extra_flops_ratio", "pipeline_flops_ratio")},
        }


def decide(model: str, task: str, stats: pd.DataFrame, margin: float, n_primary: int,
           cost: Mapping | None = None) -> Decision:
    """The decision of one model and task from its stats table (:mod:`sftdpo.stats`)."""
    rows = stats[stats["role"] == "primary"]
    if len(rows) != 1:
        raise ValueError(f"{model}, {task}: expected one primary row in the stats table, "
                         f"found {len(rows)}")
    row = rows.iloc[0]
    versus_sft = stats[(stats["comparison"] == "sft_vs_dpo")
                       & (stats["metric"] == row["metric"])]
    return Decision(model, task, row, margin, n_primary,
                    None if row["comparison"] == "sft_vs_dpo" or versus_sft.empty
                    else versus_sft.iloc[0], cost)


def decisions_table(decisions: list[Decision]) -> pd.DataFrame:
    """``verdicts.csv``: one row per task and model (``DECISION_COLUMNS``)."""
    return pd.DataFrame([d.record() for d in decisions], columns=list(DECISION_COLUMNS))


RULE = ("The decision rule, declared before the run: for each task and model one primary "
        "hypothesis, DPO against {comparator} on the task's primary metric. Its "
        "{level:.1%} confidence interval (Bonferroni over the {k} primary hypotheses of the "
        "experiment, so the chance of any false claim across them is at most {alpha:g}; its "
        "adjusted P is at most {alpha:g} exactly when the interval excludes 0) decides: DPO is "
        "better when the interval lies above 0, worse when below 0, equivalent when it lies "
        "inside plus or minus the task's minimum worthwhile difference, and otherwise the "
        "result is inconclusive: then the smallest difference this test set could detect "
        "with {power:.0%} power is given, and about how many test items would detect the "
        "margin. The unit of every test and interval is the test item, or its group where "
        "the split keeps groups apart; training seeds are averaged within an item, never "
        "counted as more items. Every other comparison is secondary: its P is not adjusted "
        "and its 95% interval describes, it does not decide.")


def rule_text(control: bool, k: int, alpha: float, power: float) -> str:
    """The decision rule in one paragraph (README, report, recommendations)."""
    comparator = ("the matched-compute control (SFT continued for as many training FLOPs as "
                  "the preference pairs and DPO took)" if control else "SFT")
    return RULE.format(comparator=comparator, level=1 - alpha / k, k=k, alpha=alpha,
                       power=power)
