"""Hashes of the items every built-in generator makes, so a refactor can show it changed none.

For every built-in task, seeds 0, 1, 2, a few sizes and a few generator settings (the defaults
and some that reach the hard variants, typos and the other switches), the items are generated
and the sha256 of their canonical JSON recorded in ``item_hashes.json`` beside this script.

    python tests/item_hashes.py --write   # record the hashes of the code as it is
    python tests/item_hashes.py --check   # exit 1 naming every case whose items changed

``tests/test_item_hashes.py`` runs the check.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from sftdpo.tasks import BUILTIN_TASKS

HERE = Path(__file__).resolve().parent

HASHES = HERE / "item_hashes.json"
SEEDS = (0, 1, 2)
SIZES = (12, 40, 100, 400)  # 400: the config default, where repeats get likely
# Generator settings, per built-in task (a task not listed: its defaults, {}, only).
SETTINGS: dict[str, tuple[dict, ...]] = {
    "provider_triage": ({}, {"hard_share": 1.0, "typo_rate": 0.2}),
    "urgency_triage": ({}, {"hard_share": 0.0, "typo_rate": 0.0}),
    "radiology_finding": ({}, {"hard_share": 1.0, "typo_rate": 0.2}),
    "breast_cancer": ({}, {"features": "all", "balanced": True}),
    "sepsis_qsofa": ({}, {"hard_share": 1.0, "typo_rate": 0.2}),
    "clinical_reasoning": ({}, {"hard_share": 1.0, "free_response_share": 0.0,
                                "question": "diagnosis", "min_options": 2, "max_options": 3},
                           {"hard_share": 0.5, "free_response_share": 1.0,
                            "question": "next_step"}),
    "hospital_course_summary": ({}, {"hard_share": 1.0, "noise": 0.2, "message_share": 0.5}),
}


def canonical(items: list[dict]) -> bytes:
    return json.dumps(items, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def case_key(task: str, settings: dict, n_items: int, seed: int) -> str:
    return f"{task} {json.dumps(settings, sort_keys=True)} n={n_items} seed={seed}"


def compute() -> dict[str, str]:
    hashes = {}
    for name, task in BUILTIN_TASKS.items():
        for settings in SETTINGS.get(name, ({},)):
            for n_items in SIZES:
                for seed in SEEDS:
                    items = task.build_items(n_items, seed, **settings)
                    hashes[case_key(name, settings, n_items, seed)] = hashlib.sha256(
                        canonical(items)).hexdigest()
    return hashes


def changed(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """The cases whose hash differs, is new, or is gone."""
    return sorted(key for key in recorded.keys() | now.keys()
                  if recorded.get(key) != now.get(key))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"record the hashes in {HASHES}")
    mode.add_argument("--check", action="store_true", help="compare with the recorded hashes")
    args = parser.parse_args(argv)
    now = compute()
    if args.write:
        HASHES.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {len(now)} hashes to {HASHES}")
        return 0
    differ = changed(json.loads(HASHES.read_text(encoding="utf-8")), now)
    for key in differ:
        print(f"changed: {key}")
    print(f"{len(now) - len(differ)} of {len(now)} cases unchanged" if differ
          else f"all {len(now)} cases unchanged")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
