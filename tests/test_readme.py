"""The README's Python example runs exactly as written and gives a sensible operating point."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_python_api() -> str:
    block = (ROOT / "README.md").read_text().split("<!-- python-api -->", 1)[1]
    return block.split("```python", 1)[1].split("```", 1)[0]


@pytest.mark.slow   # the README example as written: about 2.5 minutes on one thread
def test_readme_python_api_runs_as_written(tmp_path):
    proc = subprocess.run([sys.executable, "-c", readme_python_api()], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = re.search(r"test accuracy ([\d.]+) at ([\d.]+)(?= of the backbone's MACs)", proc.stdout)
    assert match, proc.stdout[-2000:]
    accuracy, cost = float(match.group(1)), float(match.group(2))
    assert 0.8 < accuracy <= 1.0 and 0.0 < cost < 1.0          # the exits save compute and stay accurate
    assert list((tmp_path / ".cache" / "features").rglob("block3-8x8.npy"))   # pooled features stored on disk
    # quiet: nothing but its own line and Lightning's progress (no banners, tips, summaries, warnings) ...
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if line.strip() and not re.match(r"(Epoch \d+/\d+|Predicting|Validation|Sanity Checking) ", line)]
    assert lines == [match.group(0) + " of the backbone's MACs"], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cache"]   # ... and it writes only the cache it names
