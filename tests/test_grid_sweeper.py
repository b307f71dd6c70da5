"""The default grid sweeper: the same jobs as Hydra's basic sweeper, each composed once, bad values still
refused before any job runs."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

from hydra_plugins.eexit_grid_sweeper.grid_sweeper import covering_jobs

ROOT = Path(__file__).resolve().parents[1]


def test_a_full_grid_is_checked_by_as_many_jobs_as_its_longest_value_list():
    grid = [[f"a={a}", f"b={b}", f"c={c}"] for a, b, c in itertools.product("0123", "0123", "0123")]
    chosen = covering_jobs(grid)
    assert len(chosen) == 4
    assert {o for job in chosen for o in job} == {o for job in grid for o in job}
    assert chosen[0] == grid[0]   # ties go to the grid's order
    uneven = [[f"a={a}", f"b={b}"] for a, b in itertools.product("01", "01234")]
    assert len(covering_jobs(uneven)) == 5 and len(covering_jobs([["x=1"]])) == 1


def test_a_value_that_cannot_compose_stops_the_sweep_before_any_job(tmp_path):
    """synthetic data already has train_size, so `+data.train_size` composes for digits only: the second job
    of the grid cannot compose, and the sweep stops before it writes anything (Hydra's basic sweeper would have
    written multirun.yaml first: nothing at all shows the grid sweeper checked the grid up front)."""
    sweep = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "run.py", "-m", "data=digits,synthetic", "+data.train_size=50",
                           "logger=none", "plan=true", f"cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={sweep}"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == ["error: Could not append to config. An item is already at "
                                                "'data.train_size'."], proc.stderr
    assert not sweep.exists()
