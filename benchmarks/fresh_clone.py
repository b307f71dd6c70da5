#!/usr/bin/env python
"""What a newcomer's first hour costs: a fresh clone of this repository's committed state, then ``make run`` (the
default experiment) and ``make test`` (the fast suite), each timed; the run's headline read from its results.json.

    python benchmarks/fresh_clone.py [--skip-run] [--skip-test] [--record]

The clone reuses this checkout's ``.venv`` by symlink (its code first on ``PYTHONPATH``, the install step
skipped) unless ``--install`` is given (then ``make`` builds its own: benchmarks/install.py measures that part
alone). ``--record`` writes docs/records/default_run.json and docs/records/suite.json, which README cites.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eexit.reporting.results_file import Results  # noqa: E402


SHARED_VENV = ["-o", ".venv/.installed-run", "-o", ".venv/.installed"]   # make: the shared venv is up to date


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(cwd)} if (cwd / ".venv").is_symlink() else None
    if env is not None:
        cmd = [cmd[0], *SHARED_VENV, *cmd[1:]]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return took, proc.stdout + proc.stderr


def default_run(clone: Path, figure: Path | None = None) -> dict:
    """``make run``'s time and what it printed: the backbone, every regime's headlines (chosen on validation) with
    what they kept on test, and the oracle (chosen on test) beside them. ``figure``: where its tradeoff.png goes."""
    seconds, _ = timed(["make", "run"], clone)
    path = next(clone.glob("outputs/*/*/results.json"))
    results = Results.read(path)
    values = {"seconds": round(seconds), "backbone_test_acc_pct": round(100 * results["backbone_test_acc"], 2),
              "phase_seconds": {k: round(v) for k, v in results.phase_seconds.items() if v >= 1}}
    for name, regime in results["regimes"].items():
        values[f"{name}_train_seconds"] = round(regime.get("train_seconds") or 0)
        for drop, point in (regime.get("headline") or {}).items():
            values[f"{name}_{drop}"] = None if point is None else {
                "saved_pct": round(100 * point["cost_reduction"], 1), "test_acc_pct": round(100 * point["test_acc"], 2),
                "test_drop_pt": round(point.get("test_drop_pt", float("nan")), 2),
                "saved_low_pct": round(100 * point["cost_reduction_low"], 1),
                "saved_high_pct": round(100 * point["cost_reduction_high"], 1),
                **({} if "time_saving" not in point else {   # measured on the run's device, beside the MACs
                    "time_saved_batch1_pct": round(100 * point["time_saving"]["batch_1"]["saving"]),
                    "time_saved_batch_pct": round(100 * point["time_saving"]["batch"]["saving"]),
                    "batch1_p50_ms": round(point["time_saving"]["batch_1"]["p50_ms"], 2),
                    "plain_batch1_p50_ms": round(point["time_saving"]["batch_1"]["plain_p50_ms"], 2)})}
        oracle = (regime.get("oracle") or {}).get("drop_1pt")
        values[f"{name}_oracle_drop_1pt"] = None if oracle is None else {
            "saved_pct": round(100 * oracle["cost_reduction"], 1), "test_acc_pct": round(100 * oracle["test_acc"], 2)}
    if figure is not None and (path.parent / "tradeoff.png").is_file():
        figure.write_bytes((path.parent / "tradeoff.png").read_bytes())
    return values


def suite(clone: Path) -> dict:
    seconds, out = timed(["make", "test"], clone)
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|skipped|failed|deselected)", out.splitlines()[-1]
                                                if out.strip() else "")}
    return {"seconds": round(seconds), **counts}


def report(name: str, values: dict, record: bool) -> None:
    print(f"{name}: {values}", flush=True)
    if record:
        from eexit.bench.records import write_record
        print(f"recorded: {write_record(name, 'python benchmarks/fresh_clone.py --record', values)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--skip-test", action="store_true")
    ap.add_argument("--install", action="store_true", help="let make install its own .venv in the clone")
    ap.add_argument("--record", action="store_true", help="write docs/records/default_run.json and suite.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eexit-clone-") as tmp:
        clone = Path(tmp) / "eexit"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        if not args.install:
            (clone / ".venv").symlink_to(ROOT / ".venv")
            for stamp in (".installed-run", ".installed"):   # newer than the clone's files: no make in the clone
                (ROOT / ".venv" / stamp).touch()              # (the tests run some targets) reinstalls into it
        if not args.skip_run:   # each record is written as soon as it is measured: a later failure keeps it
            report("default_run", default_run(clone, ROOT / "docs" / "default-run.png" if args.record else None),
                   args.record)
        if not args.skip_test:
            report("suite", suite(clone), args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
