#!/usr/bin/env python
"""The same small sweep on every installed Hydra launcher: ``python benchmarks/launchers.py [--jobs 4]
[--launchers basic,joblib,submitit_local,ray] [--record]`` (``make bench-launchers``).

Each launcher runs the first ``--jobs`` configurations of ``sweep=bts64`` with ``make bts64-smoke``'s
settings (digits / ResNet20, W&B off) from an **empty cache**, so the row also checks the scale-out
promise: the backbone is trained once and every feature split extracted once, whichever processes the
jobs run in (counted from the jobs' logs). A launcher whose plugin is not installed is skipped; the Ray
launcher needs ``pip install "eexit[ray]"`` (in its own environment: it pins ``cloudpickle<3`` and
``joblib<1.6``). Wall time includes each launcher's own start-up (a local Ray takes seconds to start).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from sweep_profile import SMOKE, grid_overrides  # noqa: E402

PLUGINS = {"basic": None, "joblib": "hydra_plugins.hydra_joblib_launcher",
           "submitit_local": "hydra_plugins.hydra_submitit_launcher", "ray": "hydra_plugins.hydra_ray_launcher"}
EXTRA = {"basic": [], "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
         "submitit_local": ["hydra/launcher=submitit_local"],
         "ray": ["hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2"]}


def built(sweep: Path) -> tuple[int, int]:
    """(backbone trainings, the most times any feature file was extracted) over the jobs' logs."""
    logs = "\n".join(p.read_text() for p in sweep.glob("*/*.log"))
    extracted = Counter((split, name) for names, split in re.findall(r"features: extracted (.+?) of (\w+) in", logs)
                        for name in names.split(", "))
    return logs.count("backbone: training"), max(extracted.values(), default=0)


def row(launcher: str, jobs: int, tmp: Path) -> str:
    sweep = tmp / launcher
    args = ["-m", "sweep=bts64", *SMOKE, *grid_overrides(jobs), "logger=none", f"cache_dir={tmp / launcher}-cache",
            f"hydra.sweep.dir={sweep}", *EXTRA[launcher]]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    seconds = time.perf_counter() - start
    if done.returncode:
        return f"| {launcher} | failed: {done.stderr.strip().splitlines()[-1][:120]} | | | |"
    finished = len(list(sweep.glob("*/results.json")))
    trainings, most = built(sweep)
    return f"| {launcher} | {seconds:.1f} | {finished}/{jobs} | {trainings} | {most} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    ap.add_argument("--jobs", type=int, default=8, choices=(8, 16, 32, 64))
    ap.add_argument("--launchers", default="basic,joblib,submitit_local,ray")
    ap.add_argument("--record", action="store_true", help="append to the tracked benchmarks/RESULTS-launchers.md")
    args = ap.parse_args()
    rows = ["| launcher | wall s (empty cache) | jobs finished | backbone trainings | max extractions of a feature file |",
            "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for launcher in args.launchers.split(","):
            plugin = PLUGINS[launcher]
            if plugin and importlib.util.find_spec(plugin) is None:
                rows.append(f"| {launcher} | not installed | | | |")
                continue
            rows.append(row(launcher, args.jobs, Path(tmp)))
            print(rows[-1], flush=True)
    import platform
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/launchers.py --jobs {args.jobs} "
             f"--launchers {args.launchers}`", "",
             f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {sys.executable}; "
             f"bts64-smoke settings, empty cache per launcher.", "", *rows]
    print("\n".join(lines))
    out = Path(__file__).parent / ("RESULTS-launchers.md" if args.record else "local/RESULTS-launchers.md")
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
