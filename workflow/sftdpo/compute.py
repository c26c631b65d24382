"""What each training and generation job cost, and what DPO cost beside SFT.

Every GPU-capable job (sft, pairs, dpo, sft_matched, generate, judge; where a stage is tuned,
each candidate's training and validation generation) writes a compute record, a JSON object
with these fields (:meth:`sftdpo.runtime.JobMeter.record`), next to its output:

- ``device``: "cpu", or the CUDA device's name ("NVIDIA H100 80GB HBM3"; "N x name" for N GPUs).
- ``processes`` (training records): how many processes trained (``sft.processes``,
  ``dpo.processes``: :mod:`sftdpo.launch`); the record is the whole job's, each measure below
  summed over them as it says.
- ``flops``: the estimated floating-point operations of the job's forward and backward passes
  (counted as :mod:`sftdpo.flops` says); the compute ratios of compute.csv are ratios of these.
- ``cpu_seconds``: the process's CPU time (user + system, all its threads,
  ``time.process_time``) from the start of the meter to the record; a job of several
  processes, theirs summed.
- ``wall_seconds``: the job's wall time from its start (once its GPU is leased: waiting for a
  GPU is not the job's cost) to the record, model loading included; a job of several
  processes, from its start to the last process's record (their start-up included).
- ``accelerator_seconds``: on CUDA, the wall time of the job's compute section (training loop;
  generation or scoring loop), with ``torch.cuda.synchronize()`` at both ends so kernels still
  queued are counted: the time the GPU was held by the work, without loading and writing (the
  pairs job's section includes loading the base model where a strategy needs its summaries);
  a job of N processes on N GPUs, each process's summed (N x the section's wall time).
  On a CPU it is null, not 0: there is no accelerator, and 0 would read as "free".
- ``tokens``: tokens processed. Training: the non-padding input tokens the trainer fed the
  model, summed over steps and epochs (the trainers' ``num_input_tokens_seen`` with
  ``include_num_input_tokens_seen="non_padding"``; every process's, as transformers gathers
  them). With ``share_prompt`` (the default): the tokens of the packed sequences the training
  steps ran (every process's, summed), each DPO pair's prompt once and each SFT packed
  sequence's shared system turn once (:mod:`sftdpo.prefix_packing`; the trainer's count is
  ``input_tokens``); without it, TRL's count, every DPO prompt twice, with the chosen and
  with the rejected answer, as the model then runs them. The frozen
  reference's pass over the same tokens is not counted again. Generation and scoring: every
  non-padding token that went through the model, prompt tokens, generated tokens and scored
  answer tokens (the :class:`sftdpo.inference.TokenTally` the job's inference calls returned,
  added up; the record also gives the three counts).
- ``peak_memory_mib``: on CUDA, ``torch.cuda.max_memory_allocated`` (the tensors' peak; the
  CUDA context and the allocator's cache are not in it), summed over the job's GPUs; on a CPU
  the job process's peak resident set (a job of several processes: theirs summed), the
  Python runtime included: on Linux the kernel's ``VmHWM`` (``ru_maxrss`` there would keep
  the peak of Snakemake's process, which started the job, across fork and exec), elsewhere
  ``ru_maxrss``. MiB.

Where the records are: one name, :data:`RECORD_NAME`: ``compute.json`` in an sft, dpo or
sft_matched adapter folder and in a tuning candidate's adapter folder; ``<output>.compute.json``
beside the JSONL output of pairs, generate, judge and a candidate's validation generation.

``results/summary/compute.csv`` (:func:`compute_csv`) has the columns ``model, task, seed,
stage, method, device, flops, cpu_seconds, wall_seconds, accelerator_seconds, tokens,
peak_memory_mib``; an empty cell where a value is null (accelerator seconds on a CPU). Per
model and task:

- one row per job, by seed, in :data:`JOB_STAGES` order: sft, pairs, dpo, sft_matched (the
  matched-compute control: SFT continued from the SFT adapter for about the FLOPs of pairs +
  dpo, :func:`sftdpo.flops.matched_steps`; where the run has it), generate and judge
  (``method``: the generated or judged method, in :data:`METHOD_ORDER`), then ``tuning`` where
  a stage is tuned: one row per candidate (``method`` "<stage>:<candidate>", e.g.
  "sft:lr0.001"), its training record and its validation generation's summed
  (:func:`sum_parts`: peak memory the larger). Tuning rows count every candidate, the chosen
  one included: the chosen candidate's adapter, its record with it, is copied to the stage's
  adapter folder, so its training is also the sft or dpo row. A candidate's validation scoring
  runs no model and writes no record: not counted;
- then its ratio rows (:func:`cost_ratios`; ``seed``, ``method`` and ``peak_memory_mib``
  empty: peak memory does not add up over jobs), each measure a ratio per seed, then the mean
  over the seeds that have sft, pairs and dpo rows: ``extra_over_sft``, (pairs + dpo) / sft,
  DPO's whole extra cost over SFT's; ``pipeline_over_sft``, (sft + pairs + dpo) / sft, SFT
  then DPO over SFT alone (the figure the paper's "2 to 3 times" compares to); and where an
  sft_matched row ran, ``matched_over_extra``, sft_matched / (pairs + dpo), how closely the
  control matched DPO's extra cost. Tuning is in no ratio row: :func:`dpo_costs` gives it
  beside them (``tuning_flops``, ``tuning_flops_ratio``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only in the gather job: importing it costs every model job 0.2 s
    import pandas as pd

KEYS = ("model", "task", "seed", "stage", "method")
MEASURES = ("flops", "cpu_seconds", "wall_seconds", "accelerator_seconds", "tokens",
            "peak_memory_mib")
COLUMNS = (*KEYS, "device", *MEASURES)
# May be null in a record: accelerator seconds on a CPU.
NULLABLE = ("accelerator_seconds",)
# The stages of compute.csv's job rows, in pipeline order (a seed's tuning candidates last:
# a cost of their own), then its ratio rows' (module docstring).
JOB_STAGES = ("sft", "pairs", "dpo", "sft_matched", "generate", "judge", "tuning")
RATIO_STAGES = ("extra_over_sft", "pipeline_over_sft", "matched_over_extra")
STAGE_ORDER = (*JOB_STAGES, *RATIO_STAGES)
# The measures a ratio row divides: peak memory does not add up over jobs, so it has none.
RATIO_MEASURES = ("flops", "cpu_seconds", "wall_seconds", "accelerator_seconds", "tokens")
# Generated and judged methods in table order (the package's METHODS may lag or lead), and the
# tuned stages, whose candidates' rows are "<stage>:<candidate>".
METHOD_ORDER = ("base", "sft", "sft_matched", "dpo")
TUNED_STAGE_ORDER = ("sft", "dpo")
# dpo_costs' columns, which the recommendation text reads by name.
COST_COLUMNS = ("model", "task", "n_seeds", "device", "sft_flops", "extra_flops",
                "extra_flops_ratio", "extra_cpu_ratio", "extra_wall_ratio",
                "extra_accelerator_ratio", "pipeline_flops_ratio", "matched_flops_ratio",
                "tuning_flops", "tuning_flops_ratio")
RECORD_NAME = "compute.json"


class ComputeRecordError(ValueError):
    """A compute record lacks a field or holds a value of the wrong kind."""


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_record(record: Mapping, source: str) -> None:
    """Raise :class:`ComputeRecordError` naming ``source`` and the field, if a field is missing
    or not what the module docstring says."""
    for field in ("device", *MEASURES):
        if field not in record:
            raise ComputeRecordError(
                f"{source}: compute record has no field {field!r} (expected "
                f"{', '.join(('device', *MEASURES))}; a record written before compute "
                "accounting: rerun the job)")
        value = record[field]
        if field == "device":
            ok, expected = isinstance(value, str) and bool(value), "a device name"
        elif field == "tokens":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            expected = "a whole number >= 0"
        else:
            ok = (_is_number(value) and value >= 0) or (value is None and field in NULLABLE)
            expected = "a number >= 0" + (" or null" if field in NULLABLE else "")
        if not ok:
            raise ComputeRecordError(f"{source}: field {field!r} is {value!r}; expected {expected}")


def load_record(path: str | Path, key: Mapping) -> dict:
    """One job's record, under its ``key`` (``model``, ``task``, ``seed``, ``stage`` and, for
    generate, judge and tuning, ``method``; ``part`` where the job's cost is in several records,
    :func:`sum_parts`). ``path`` is the JSON file, or an adapter folder, whose ``compute.json``
    is read."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComputeRecordError(f"{path}: no compute record there") from None
    except json.JSONDecodeError as error:
        raise ComputeRecordError(f"{path}: not JSON ({error})") from None
    if not isinstance(record, dict):
        raise ComputeRecordError(f"{path}: expected a JSON object, found {type(record).__name__}")
    check_record(record, str(path))
    return {"model": key["model"], "task": key["task"], "seed": key["seed"],
            "stage": key["stage"], "method": key.get("method"), "source": str(path),
            **({"part": key["part"]} if "part" in key else {}),
            **{field: record[field] for field in ("device", *MEASURES)}}


def load_records(paths: Iterable[str | Path], keys: Iterable[Mapping]) -> list[dict]:
    """The records of ``paths`` under their ``keys`` (:func:`load_record`), the parts of one
    job summed (:func:`sum_parts`)."""
    return sum_parts([load_record(path, key) for path, key in zip(paths, keys, strict=True)])


def sum_parts(records: list[dict]) -> list[dict]:
    """The records, those with a ``part`` (a tuning candidate's ``training`` and
    ``validation``) summed into one per job key, where the first of them was: FLOPs, CPU,
    wall and accelerator seconds (null if a part's is) and tokens add up; peak memory is the
    largest part's; ``device`` lists the parts' devices, ``source`` their files."""
    merged: list[dict | list[dict]] = []
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        if "part" not in record:
            merged.append(record)
            continue
        key = tuple(record.get(column) for column in KEYS)
        if key not in groups:
            groups[key] = []
            merged.append(groups[key])
        groups[key].append(record)
    return [_summed(item) if isinstance(item, list) else item for item in merged]


def _summed(parts: list[dict]) -> dict:
    sources = [part.get("source", f"part {part['part']!r}") for part in parts]
    names = [part["part"] for part in parts]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:
        raise ComputeRecordError(f"{' and '.join(sources)}: part {twice!r} twice for the job "
                                 f"{ {key: parts[0].get(key) for key in KEYS} }")
    summed = {key: parts[0].get(key) for key in KEYS}
    summed["source"] = " + ".join(sources)
    summed["device"] = "; ".join(dict.fromkeys(part["device"] for part in parts))
    for measure in MEASURES:
        values = [part[measure] for part in parts]
        if measure == "peak_memory_mib":
            summed[measure] = max(values)
        elif any(value is None for value in values):
            summed[measure] = None
        else:
            summed[measure] = sum(values)
    return summed


def _method_rank(method) -> int:
    """Where a row's method goes among its stage's: none first, then METHOD_ORDER, a tuning
    candidate by its tuned stage (candidates of a stage in the records' order)."""
    if method is None or (isinstance(method, float) and math.isnan(method)):
        return -1
    if method in METHOD_ORDER:
        return METHOD_ORDER.index(method)
    stage = str(method).partition(":")[0]
    return TUNED_STAGE_ORDER.index(stage) if stage in TUNED_STAGE_ORDER else len(METHOD_ORDER)


def compute_table(records: list[dict]) -> pd.DataFrame:
    """One row per job record (``COLUMNS``), ordered by model, task, seed and pipeline stage.
    Each record needs the key fields and the measures; ``source`` (its file) names it in
    errors."""
    import pandas as pd

    if not records:
        raise ComputeRecordError("no compute records to gather")
    seen: dict[tuple, str] = {}
    for index, record in enumerate(records):
        source = record.get("source", f"compute record {index}")
        missing = [key for key in KEYS if key != "method" and key not in record]
        if missing:
            raise ComputeRecordError(f"{source}: no {', '.join(map(repr, missing))} to file "
                                     "the record under")
        if record["stage"] not in JOB_STAGES:
            raise ComputeRecordError(f"{source}: stage {record['stage']!r} is none of "
                                     f"{', '.join(JOB_STAGES)}")
        check_record(record, source)
        key = tuple(record.get(column) for column in KEYS)
        if key in seen:
            raise ComputeRecordError(f"{source} and {seen[key]}: two records for the same job "
                                     f"{dict(zip(KEYS, key, strict=True))}")
        seen[key] = source
    table = pd.DataFrame([{column: record.get(column) for column in COLUMNS}
                          for record in records])
    table["accelerator_seconds"] = table["accelerator_seconds"].astype(float)
    # Pipeline order: stages as they run, methods base, sft, sft_matched, dpo; a stage without
    # one first.
    order = {"_stage": table["stage"].map(STAGE_ORDER.index),
             "_method": table["method"].map(_method_rank)}
    return (table.assign(**order)
            .sort_values(["model", "task", "seed", "_stage", "_method"], kind="stable")
            .drop(columns=list(order)).reset_index(drop=True))


def _seed_costs(table: pd.DataFrame) -> dict:
    """Per model, task and seed that has sft, pairs and dpo rows (the index, sorted): each
    stage's ratio measures (``sft``, ``pairs``, ``dpo``; ``sft_matched``, NaN where it did not
    run), ``extra`` = pairs + dpo, ``tuning`` (the seed's tuning rows summed; 0 where none),
    and the ``devices`` of the rows behind each ratio."""
    import pandas as pd

    keys = ["model", "task", "seed"]

    def stage(name):
        rows = table[table["stage"] == name].set_index(keys)
        return rows[list(RATIO_MEASURES)].astype(float), rows["device"]

    (sft, sft_device), (pairs, pairs_device), (dpo, dpo_device) = map(
        stage, ("sft", "pairs", "dpo"))
    matched, matched_device = stage("sft_matched")
    seeds = sft.index.intersection(pairs.index).intersection(dpo.index).sort_values()
    tuning = (table[table["stage"] == "tuning"].astype({"flops": float})
              .groupby(keys)["flops"].sum())
    costs = {"index": seeds, "sft": sft.loc[seeds], "pairs": pairs.loc[seeds],
             "dpo": dpo.loc[seeds], "sft_matched": matched.reindex(seeds),
             "tuning_flops": tuning.reindex(seeds).fillna(0.0) if len(seeds) else
             pd.Series(dtype=float)}
    costs["extra"] = costs["pairs"] + costs["dpo"]
    training = pd.concat([sft_device.loc[seeds], pairs_device.loc[seeds],
                          dpo_device.loc[seeds]])
    control = pd.concat([matched_device[matched_device.index.isin(seeds)],
                         pairs_device.loc[seeds], dpo_device.loc[seeds]])
    costs["devices"] = {stage: rows.groupby(level=["model", "task"]).agg(
        lambda names: "; ".join(sorted(set(names))))
        for stage, rows in (("training", training), ("control", control))}
    return costs


def _over(numerator: pd.DataFrame, denominator: pd.DataFrame) -> pd.DataFrame:
    """Ratio per seed; NaN where either is null or the denominator is 0."""
    return numerator / denominator.replace(0, math.nan)


def _mean_by_task(per_seed: pd.DataFrame) -> pd.DataFrame:
    return per_seed.groupby(level=["model", "task"], sort=True).mean()


def cost_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """compute.csv's ratio rows (``COLUMNS``; ``seed``, ``method`` and ``peak_memory_mib``
    empty), per model and task, each measure a ratio per seed, then its mean over the seeds
    that have sft, pairs and dpo rows (over those of them where it is not NaN: accelerator
    seconds are NaN on a CPU, a ratio NaN where its denominator is 0):

    - ``extra_over_sft``: (pairs + dpo) / sft, DPO's whole extra cost over SFT's;
    - ``pipeline_over_sft``: (sft + pairs + dpo) / sft, SFT then DPO over SFT alone;
    - ``matched_over_extra`` (only where an ``sft_matched`` row ran, over the seeds that have
      one): sft_matched / (pairs + dpo), how closely the matched-compute control matched
      DPO's extra cost.

    ``device``: the devices of the rows divided."""
    import pandas as pd

    costs = _seed_costs(table)
    if costs["index"].empty:
        return pd.DataFrame(columns=list(COLUMNS))
    sft, extra, matched = costs["sft"], costs["extra"], costs["sft_matched"]
    ratios = {"extra_over_sft": _over(extra, sft),
              "pipeline_over_sft": _over(sft + extra, sft),
              "matched_over_extra": _over(matched, extra)[matched["flops"].notna()]}
    rows = []
    for position, (stage, per_seed) in enumerate(ratios.items()):
        if per_seed.empty:
            continue
        devices = costs["devices"]["control" if stage == "matched_over_extra" else "training"]
        means = _mean_by_task(per_seed)
        means["device"] = devices.reindex(means.index)
        rows.append(means.reset_index().assign(stage=stage, seed=None, method=None,
                                               peak_memory_mib=math.nan, _order=position))
    return (pd.concat(rows, ignore_index=True)
            .sort_values(["model", "task", "_order"], kind="stable")
            .reset_index(drop=True)[list(COLUMNS)])


def dpo_costs(table: pd.DataFrame) -> pd.DataFrame:
    """What DPO costs beside SFT, per model and task (``COST_COLUMNS``), each value a mean over
    the seeds that have sft, pairs and dpo rows (``n_seeds``; a ratio over those where it is
    not NaN), from :func:`compute_table`'s rows:

    - ``sft_flops``, ``extra_flops``: the SFT job's FLOPs; DPO's extra, pairs + dpo jobs;
    - ``extra_flops_ratio``, ``extra_cpu_ratio``, ``extra_wall_ratio``,
      ``extra_accelerator_ratio`` (NaN on a CPU): (pairs + dpo) / sft in FLOPs, CPU, wall
      and accelerator seconds (compute.csv's ``extra_over_sft`` row);
    - ``pipeline_flops_ratio``: (sft + pairs + dpo) / sft FLOPs;
    - ``matched_flops_ratio``: sft_matched / (pairs + dpo) FLOPs, over the seeds with the
      control; NaN without it;
    - ``tuning_flops``, ``tuning_flops_ratio``: the seed's tuning rows' FLOPs (every
      candidate's training and validation, the chosen ones' included), alone and over SFT's;
      0.0 where nothing was tuned.

    ``device``: the devices of the sft, pairs and dpo rows."""
    import pandas as pd

    costs = _seed_costs(table)
    if costs["index"].empty:
        return pd.DataFrame(columns=list(COST_COLUMNS))
    sft, extra, matched = costs["sft"], costs["extra"], costs["sft_matched"]
    per_seed = pd.DataFrame({
        "sft_flops": sft["flops"],
        "extra_flops": extra["flops"],
        "extra_flops_ratio": _over(extra["flops"], sft["flops"]),
        "extra_cpu_ratio": _over(extra["cpu_seconds"], sft["cpu_seconds"]),
        "extra_wall_ratio": _over(extra["wall_seconds"], sft["wall_seconds"]),
        "extra_accelerator_ratio": _over(extra["accelerator_seconds"],
                                         sft["accelerator_seconds"]),
        "pipeline_flops_ratio": _over(sft["flops"] + extra["flops"], sft["flops"]),
        "matched_flops_ratio": _over(matched["flops"], extra["flops"]),
        "tuning_flops": costs["tuning_flops"],
        "tuning_flops_ratio": _over(costs["tuning_flops"], sft["flops"]),
    })
    grouped = per_seed.groupby(level=["model", "task"], sort=True)
    result = grouped.mean()
    result["n_seeds"] = grouped.size()
    result["device"] = costs["devices"]["training"].reindex(result.index)
    return result.reset_index()[list(COST_COLUMNS)]


def compute_csv(table: pd.DataFrame) -> pd.DataFrame:
    """``compute.csv``'s rows: every job of :func:`compute_table`, then the ratio rows of each
    model and task (:func:`cost_ratios`; module docstring)."""
    import pandas as pd

    ratios = cost_ratios(table)
    rows = pd.concat([table.astype(object), ratios.astype(object)], ignore_index=True)
    # Each model and task: its jobs in the table's order, then its ratio rows.
    return (rows.assign(_ratio=rows["stage"].isin(RATIO_STAGES))
            .sort_values(["model", "task", "_ratio"], kind="stable")
            .drop(columns="_ratio").reset_index(drop=True))
