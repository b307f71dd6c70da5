#!/usr/bin/env python
"""How long a bad setting takes to be refused: ``eexit <bad setting>``, a fresh process each time, wall seconds
from start to exit (Python, Hydra's composition and eexit's checks; torch is never imported on this path).

    python benchmarks/bad_setting.py [--repeats 5] [--record]

``--record`` writes docs/records/bad_setting.json (docs/benchmarks.md cites it).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD = {"class argument": ["calibrator.margin=abc"], "run setting": ["data.batch_size=0"],
       "group option": ["method=foo"]}


def seconds(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "eexit", *args, "logger=none"], cwd=ROOT, capture_output=True,
                          text=True)
    took = time.perf_counter() - start
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--record", action="store_true", help="write docs/records/bad_setting.json")
    args = ap.parse_args(argv)
    times: dict[str, list[float]] = {name: [] for name in BAD}
    for _ in range(args.repeats):   # interleaved, so drift on a shared machine falls on every kind alike
        for name, bad in BAD.items():
            times[name].append(seconds(bad))
    values = {name.replace(" ", "_"): {"median_s": round(statistics.median(t), 2), "max_s": round(max(t), 2),
                                       "setting": " ".join(BAD[name])} for name, t in times.items()}
    for name, v in values.items():
        print(f"{name}: {v['setting']}: median {v['median_s']} s, max {v['max_s']} s over {args.repeats}")
    if args.record:
        sys.path.insert(0, str(ROOT))
        from eexit.bench.records import write_record
        print(f"recorded: {write_record('bad_setting', 'python benchmarks/bad_setting.py --record', values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
