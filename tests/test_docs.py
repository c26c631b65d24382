"""The documentation pages generated from the code are current (docs/generate.py)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_generated_pages_are_what_the_code_gives():
    result = subprocess.run([sys.executable, str(REPO / "docs/generate.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
