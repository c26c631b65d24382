"""Validation-based selection: a stage's hyperparameters given as lists are tuned on the
validation split, and only the chosen setting goes on to the test split.

Which keys may be lists (:data:`TUNABLE`): ``sft.learning_rate``, ``dpo.beta`` and
``dpo.learning_rate``. A list of one value is that value.

The DAG (``workflow/rules/selection.smk``), the same rules in every run, per model, task and
seed, SFT first, then DPO from the chosen SFT:

- every candidate trains its own adapter (rules sft and dpo),
  ``results/selection/{model}/{task}/seed{seed}/{method}/{candidate}/adapter`` (with its
  compute record ``compute.json``): where the stage is tuned, one candidate per point of the
  grid of its listed keys, in the order listed, named by :func:`candidate_name` (e.g.
  ``lr0.0002`` or ``beta0.05_lr5e-05``); otherwise one candidate, :data:`UNTUNED`, with the
  stage's settings as they are;
- where the stage is tuned, each candidate generates on the VALIDATION split and is scored
  there (rules validate_candidate and score_candidate: ``validation.jsonl``,
  ``validation.metrics.json`` beside the adapter), and rule select_candidate reads the
  candidates' validation metrics and compute records (never a test-split file) and writes
  ``.../{method}/selected.json`` (:func:`select`): the candidate with the best headline metric
  (the first of the task's metrics, higher is better), ties to the cheaper (fewer training
  FLOPs where every record has them, else tokens), then to the first listed. An untuned
  stage's one candidate is the choice, with nothing generated or scored on validation;
- rule adopt_candidate copies the chosen candidate's adapter folder to
  ``results/adapters/{model}/{task}/seed{seed}/{method}``, so pairs, DPO (from the chosen SFT),
  test generation, compute and figures read the chosen adapter there in every run;
- rule selection_table gathers every tuned candidate into ``results/summary/selection.csv``
  (:data:`TABLE_COLUMNS`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import pandas as pd

# The keys of each training stage that may be lists of values to tune over, in name order.
TUNABLE = {"sft": ("learning_rate",), "dpo": ("beta", "learning_rate")}
# The one candidate of a stage that is not tuned: its settings as they are. No tuned candidate
# has this name (theirs start with a key's short name).
UNTUNED = "default"
SHORT_NAMES = {"learning_rate": "lr", "beta": "beta"}
TABLE_COLUMNS = ("model", "task", "seed", "method", "candidate", "beta", "learning_rate",
                 "metric", "validation_score", "tokens", "flops", "chosen")


def scalar_settings(stage_config: Mapping) -> dict:
    """``stage_config`` with every list of one value replaced by that value."""
    return {key: value[0] if isinstance(value, list) and len(value) == 1 else value
            for key, value in stage_config.items()}


def candidates(stage: str, stage_config: Mapping) -> list[tuple[str, dict]]:
    """(name, settings) of every candidate of a stage: the grid over its tunable keys given as
    lists of two or more values, in the order listed (the first key varies slowest); empty
    where nothing is tuned."""
    settings = scalar_settings(stage_config)
    grid = {key: settings[key] for key in TUNABLE[stage] if isinstance(settings.get(key), list)}
    if not grid:
        return []
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    return [(candidate_name(point), point) for point in points]


def candidate_name(settings: Mapping) -> str:
    """A candidate's wildcard value: each tuned key's short name and value (``lr0.0002``)."""
    return "_".join(f"{SHORT_NAMES[key]}{value:g}" for key, value in settings.items())


def cost_of(record: Mapping) -> tuple[str, float]:
    """The measure candidates are compared by, and its value: FLOPs where the compute record
    has them, else tokens."""
    if record.get("flops") is not None:
        return "flops", float(record["flops"])
    return "tokens", float(record["tokens"])


def select(names: Sequence[str], scores: Sequence[float], costs: Sequence[float]) -> str:
    """The chosen candidate: the highest validation score (a NaN score is the worst), ties to
    the lowest cost, then to the first in ``names``. Only validation scores and training costs
    go in: selection cannot see the test split."""
    if not names:
        raise ValueError("no candidates to select from")

    def key(index: int):
        score = scores[index]
        return (math.inf if score is None or math.isnan(score) else -score, costs[index], index)

    return names[min(range(len(names)), key=key)]


def selection_record(method: str, metric: str, candidate_settings: Sequence[tuple[str, dict]],
                     metrics: Sequence[Mapping], records: Sequence[Mapping]) -> dict:
    """The content of ``selected.json``: the chosen candidate and every candidate's settings,
    validation score and cost. ``metrics`` and ``records`` are each candidate's validation
    metrics and training compute record, in the candidates' order."""
    if metric == "parse_failure_rate":
        raise ValueError("the headline metric must be one where higher is better")
    names = [name for name, _ in candidate_settings]
    scores = [float(m[metric]) if m.get(metric) is not None else math.nan for m in metrics]
    measures = [cost_of(record) for record in records]
    # Compare by FLOPs only where every candidate has them.
    by_flops = all(measure == "flops" for measure, _ in measures)
    costs = [value if by_flops else float(record["tokens"])
             for (_, value), record in zip(measures, records, strict=True)]
    chosen = select(names, scores, costs)
    rows = [{"candidate": name, **settings, "validation_score": score,
             "tokens": int(record["tokens"]), "flops": record.get("flops"),
             "chosen": name == chosen}
            for (name, settings), score, record in zip(candidate_settings, scores, records,
                                                       strict=True)]
    return {"method": method, "metric": metric, "cost": "flops" if by_flops else "tokens",
            "chosen": chosen, "settings": dict(candidate_settings)[chosen], "candidates": rows}


def selection_table(selections: Sequence[tuple[Mapping, Mapping]],
                    stage_configs: Mapping[str, Mapping]) -> pd.DataFrame:
    """``selection.csv``: one row per candidate of every (key, ``selected.json``) pair, key =
    model, task, seed. A setting not tuned holds the stage's configured value."""
    rows = []
    for key, selection in selections:
        method = selection["method"]
        fixed = {name: stage_configs[method].get(name) for name in TUNABLE["dpo"]}
        for candidate in selection["candidates"]:
            row = {**key, "method": method, "metric": selection["metric"], **fixed, **candidate}
            if method == "sft":
                row["beta"] = None  # SFT has no beta
            rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def tuning_note(tuned: Mapping[str, Sequence[str]]) -> str:
    """The sentence under the table that says the comparison was tuned on validation, and on
    what (``tuned``: stage -> its candidates' names); "" when nothing was tuned."""
    if not tuned:
        return ""
    grids = "; ".join(f"{stage.upper()} {', '.join(names)}" for stage, names in tuned.items())
    return (f"Tuned on validation ({grids}): every candidate was trained and scored on the "
            "validation split by the task's headline metric, and only the best per model, "
            "task and seed (ties: fewer training FLOPs, then the first listed; DPO from the "
            "chosen SFT) was evaluated on test; every candidate's score and cost: "
            "results/summary/selection.csv.")


def budget_note(budgets: Mapping[str, int]) -> str:
    """A warning where the methods had unequal tuning budgets (``budgets``: stage -> its
    candidates on validation, 1 where untuned); "" where they are equal. The matched control
    takes SFT's chosen settings, so it has SFT's budget."""
    if len(set(budgets.values())) <= 1:
        return ""
    counts = ", ".join(f"{stage.upper()} {n}" for stage, n in budgets.items())
    return (f"The methods had unequal tuning budgets (candidates on validation: {counts}): "
            "a method tried more often has more chances to look better on test by its "
            "choice alone. Give each the same number of candidates (config/search.yaml).")
