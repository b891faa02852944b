"""Every benchmark script still starts: it imports what it needs from aecore and answers --help.

The benchmarks are run by hand, so nothing else notices when a module they import moves or is renamed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", sorted((ROOT / "benchmarks").glob("bench_*.py")), ids=lambda p: p.name)
def test_a_benchmark_script_imports_and_answers_help(script):
    out = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout
