"""The memory estimate of every model job of a finished run against its measured peak.

    python tests/benchmarks/memory.py RUN_FOLDER [--configfile FILE] [--device cpu|cuda]

RUN_FOLDER is the working directory of a run (a clone where `snakemake all` ran, or ran far
enough): its config (config/config.yaml unless --configfile), resources/models/, results/,
benchmarks/ (under experiments/<name>/ where the config names an experiment). For each model
job with a compute record (sftdpo.compute: SFT, the control and DPO adapters, pairs,
generations, the judge's grades, the tuning candidates) it prints the estimate the workflow
gives Snakemake as the job's mem_mb (sftdpo.job_memory.config_job, on the job's own data, as
when the job became ready), the peak its compute record measured (peak_memory_mib: the process's
VmHWM on a CPU, torch's peak allocation on a GPU), Snakemake's benchmark max_rss where there
is one, and the estimate's error against the record; then the largest error. The estimate is
for the device the record names (--device for records of another machine's kind).

A benchmark, not a test: it asserts nothing and runs in seconds (no model is loaded; the
data's tokens are counted with the model's tokenizer.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

from sftdpo.job_memory import config_job
from sftdpo.memory_estimate import estimate
from sftdpo.selection import scalar_settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load_config(path: Path) -> dict:
    """The run's config with the schema's defaults, as the workflow reads it."""
    config = yaml.safe_load(path.read_text())
    validate(config, str(SCHEMA))
    for stage in ("sft", "dpo"):
        config[stage] = scalar_settings(config[stage])
    return config


def model_jobs(out: Path, config: dict):
    """(rule, wildcards, compute record, benchmark file, data files) of every model job with a
    compute record under ``out``."""
    split = config["evaluation"]["split"]

    def data(task: str, name: str) -> Path:
        return out / "results" / "data" / task / name

    def training_files(method: str, wildcards: dict) -> dict:
        """What a training job reads: DPO the pairs, SFT and the control the training split."""
        task, model = wildcards["task"], wildcards["model"]
        if method == "dpo":
            return {"pairs": out / "results" / "pairs" / model / task / (
                f"seed{wildcards['seed']}.jsonl")}
        return {"items": data(task, "train.jsonl")}

    patterns = [
        ("adapters", r"(?P<model>[^/]+)/(?P<task>[^/]+)/seed(?P<seed>\d+)/(?P<method>[^/]+)/"
                     r"compute\.json"),
        ("pairs", r"(?P<model>[^/]+)/(?P<task>[^/]+)/seed(?P<seed>\d+)\.compute\.json"),
        ("generations", r"(?P<model>[^/]+)/(?P<task>[^/]+)/seed(?P<seed>\d+)/(?P<method>[^/]+)"
                        r"\.compute\.json"),
        ("judge", r"(?P<model>[^/]+)/(?P<task>[^/]+)/seed(?P<seed>\d+)/(?P<method>[^/]+)"
                  r"\.compute\.json"),
        ("selection", r"(?P<model>[^/]+)/(?P<task>[^/]+)/seed(?P<seed>\d+)/(?P<method>[^/]+)/"
                      r"(?P<candidate>[^/]+)/(?:adapter/compute|validation\.compute)\.json"),
    ]
    for folder, pattern in patterns:
        root = out / "results" / folder
        for record in sorted(root.rglob("*.json")) if root.is_dir() else []:
            match = re.fullmatch(pattern, record.relative_to(root).as_posix())
            if match is None:
                continue
            wildcards = match.groupdict()
            task, model = wildcards["task"], wildcards["model"]
            files = {"meta": data(task, "meta.json")}
            if folder == "adapters":
                # The control's own; SFT's and DPO's are copies of a candidate's (below).
                rule = wildcards["method"]
                if rule != "sft_matched":
                    continue
                files |= training_files(rule, wildcards)
                bench = f"{rule}/{model}/{task}/seed{wildcards['seed']}.tsv"
            elif folder == "pairs":
                rule, files["items"] = "pairs", data(task, "train.jsonl")
                bench = f"pairs/{model}/{task}/seed{wildcards['seed']}.tsv"
            elif folder in ("generations", "judge"):
                rule = "generate" if folder == "generations" else "judge"
                files["items"] = data(task, f"{split}.jsonl")
                bench = f"{rule}/{model}/{task}/seed{wildcards['seed']}/{wildcards['method']}.tsv"
            else:
                method, candidate = wildcards["method"], wildcards["candidate"]
                where = f"{model}/{task}/seed{wildcards['seed']}"
                if record.name == "compute.json":
                    # Rule sft or dpo trains every candidate ("default" where untuned).
                    rule = method
                    files |= training_files(method, wildcards)
                    bench = f"{method}/{where}/{candidate}.tsv"
                else:
                    rule, files["items"] = "validate_candidate", data(task, "validation.jsonl")
                    bench = f"selection/validate/{where}/{method}/{candidate}.tsv"
            yield rule, wildcards, record, out / "benchmarks" / bench, files


def max_rss(path: Path) -> float | None:
    """Snakemake's benchmark max_rss (MB as psutil counts them: MiB) of a job, where written."""
    if not path.is_file():
        return None
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    values = [float(row["max_rss"]) for row in rows if row.get("max_rss") not in (None, "NA")]
    return max(values) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the run's working directory")
    parser.add_argument("--configfile", type=Path, default=None)
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="estimate for this device (default: the record's)")
    args = parser.parse_args()
    config = load_config(args.configfile or args.run / "config" / "config.yaml")
    out = args.run / (f"experiments/{config['experiment']}" if config.get("experiment") else "")
    rows = []
    for rule, wildcards, record_path, bench, files in model_jobs(out, config):
        record = json.loads(record_path.read_text())
        device = args.device or ("cpu" if record.get("device", "cpu") == "cpu" else "cuda")
        model_dir = args.run / "resources" / "models" / (
            wildcards["model"] if rule != "judge" else
            (config["judge"]["model"] if isinstance(config["judge"]["model"], str) else "judge"))
        job = config_job(rule, config, wildcards, model_dir, files)
        if job is None:
            print(f"{record_path}: the model's config is unknown; skipped", file=sys.stderr)
            continue
        found = estimate(job, device)
        predicted = found.host if device == "cpu" else found.gpu
        measured = record.get("peak_memory_mib")
        error = 100 * (predicted - measured) / measured if measured else None
        rows.append((job.name, predicted, measured, max_rss(bench), error, found))
    print(f"{'job':<66} {'estimate':>9} {'measured':>9} {'max_rss':>8} {'error':>7}")
    for name, predicted, measured, rss, error, _ in rows:
        rss_text = f"{rss:8.0f}" if rss is not None else f"{'':>8}"
        error_text = f"{error:+6.1f}%" if error is not None else ""
        print(f"{name:<66} {predicted:9.0f} {measured or 0:9.0f} {rss_text} {error_text:>7}")
    errors = [abs(row[4]) for row in rows if row[4] is not None]
    if errors:
        worst = max(rows, key=lambda row: abs(row[4]) if row[4] is not None else -1)
        print(f"\n{len(errors)} jobs (MiB; estimate: sftdpo.memory_estimate, measured: the "
              f"compute record's peak_memory_mib); largest error {max(errors):.1f}% ({worst[0]}); "
              f"{sum(e <= 25 for e in errors)} of {len(errors)} within 25%")
        print(f"its parts: {worst[5].describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
