"""The GPU check script's CPU-safe parts (tests/gpu/check.py --tiny): the same code as on a GPU,
with a 2-layer model: every run gives its tokens/s, FLOPs and utilisation."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_gpu_check_runs_its_cpu_safe_parts(tmp_path):
    out = tmp_path / "gpu_check.json"
    result = subprocess.run([sys.executable, str(REPO / "tests/gpu/check.py"), "--tiny",
                             "--device", "cpu", "--steps", "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["shape"] == "tiny" and figures["bf16_matmul_flops"] > 0
    runs = {(run["quantization"], run["stage"]): run for run in figures["runs"]}
    assert set(runs) == {("none", "sft"), ("none", "dpo"), ("nf4", "sft"), ("nf4", "dpo")}
    for run in runs.values():
        assert run["steps"] == 1 and run["tokens_per_second"] > 0 and run["flops"] > 0
        assert 0 < run["mfu"] and run["peak_memory_mib"] > 0
