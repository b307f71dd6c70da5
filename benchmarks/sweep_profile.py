#!/usr/bin/env python
"""Where a sweep job's time goes: ``python benchmarks/sweep_profile.py [--jobs 8,16,64] [--sizes 1000,10000,90000]``
(also ``make bench ARGS="--parts d"``).

1. Runs ``sweep=bts64`` with ``make bts64-smoke``'s settings (digits / ResNet20, 5 head epochs, W&B offline,
   backbone cached beforehand and not timed) on the first 8, 16 and 64 configurations of the grid, and reports
   whole-sweep wall time, time per job, and (largest sweep) the mean seconds of every phase of a job, read from
   each job's ``results.json`` (``phase_seconds``). Time outside the jobs (Hydra, imports, aggregation) is the sweep's
   wall time minus the jobs' own.
2. Runs one bts64 job on synthetic data with 1k, 10k and 90k training samples (features at the last stage of an
   untrained ResNet20, extracted once beforehand and not timed) to show how a job grows with the training set.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eexit.results_file import Results  # noqa: E402
SMOKE = ["data=digits", "backbone=resnet20", "data.batch_size=128", "pretrain.epochs=15", "method.epochs=5",
         "method.batch_size=128", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "group=profile"]
GRID = {"placement.rule": ["pareto", "fine", "linear", "gold_ratio"], "policy.margin": ["0.01", "0.02", "0.05", "0.1"],
        "head.width": ["16", "32", "64", "128"]}


def grid_overrides(jobs: int) -> list[str]:
    """Sweep overrides giving the first ``jobs`` configurations of the 4x4x4 grid (8: 2x2x2, 16: 4x2x2...)."""
    sizes = {8: (2, 2, 2), 16: (4, 2, 2), 32: (4, 4, 2), 64: (4, 4, 4)}[jobs]
    return [f"{k}={','.join(v[:n])}" for (k, v), n in zip(GRID.items(), sizes)]


def run(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"run.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def sweep(jobs: int, cache: str, tmp: str, env: dict) -> tuple[float, list[dict]]:
    folder = Path(tmp) / f"sweep{jobs}"
    seconds = run(["-m", "sweep=bts64", *SMOKE, *grid_overrides(jobs), f"cache_dir={cache}",
                   f"hydra.sweep.dir={folder}"], env)
    return seconds, [Results.read(p) for p in folder.glob("*/results.json")]


def phase_table(results: list[dict], seconds: float) -> list[str]:
    names = sorted({k for r in results for k in r["phase_seconds"]}, key=lambda k: -sum(
        r["phase_seconds"].get(k, 0) for r in results))
    mean = {k: statistics.mean(r["phase_seconds"].get(k, 0.0) for r in results) for k in names}
    job = statistics.mean(r["wall_seconds"] for r in results)
    train = sum(v for k, v in mean.items() if k.endswith("/train"))
    rows = ["| phase | mean s per job | share |", "|---|---|---|"]
    rows += [f"| {k} | {v:.3f} | {100 * v / job:.0f} % |" for k, v in mean.items()]
    outside = seconds / len(results) - job
    rows += [f"| (unaccounted inside the job) | {job - sum(mean.values()):.3f} | |",
             f"| **job total** (`wall_seconds`) | **{job:.2f}** | |",
             f"| outside the jobs (Hydra, imports, aggregation), per job | {outside:.2f} | |", "",
             f"Head training (`*/train`): {train:.2f} s of a {job:.2f} s job; everything else (fixed cost per job, "
             f"outside-the-job share included): {job - train + outside:.2f} s."]
    return rows


def size_rows(sizes: list[int], tmp: str, env: dict) -> list[str]:
    rows = ["| training samples | job s | head training s | rest s |", "|---|---|---|---|"]
    for n in sizes:
        common = ["data=synthetic", "backbone=resnet20", "data.batch_size=128", f"data.train_size={n}", "data.val_size=1000",
                  "data.test_size=1000", "pretrain.epochs=0", "trainer.accelerator=cpu", "logger=none",
                  "trainer.enable_progress_bar=false", "placement.blocks=[7,8,9]", f"cache_dir={tmp}/cache{n}"]
        heads = ["method.epochs=5", "method.batch_size=128"]
        run(["method=backbone", *common, f"hydra.run.dir={tmp}/pre{n}"], env)                    # not timed
        run(["method=nonboosted", *common, "method.epochs=0", f"hydra.run.dir={tmp}/feat{n}"], env)  # features
        run(["sweep=bts64", "placement.rule=linear", "policy.margin=0.02", "head.width=32", *common, *heads,
             f"hydra.sweep.dir={tmp}/size{n}", "-m"], env)
        r = Results.read(next(Path(tmp, f"size{n}").glob("*/results.json")))
        train = sum(v for k, v in r["phase_seconds"].items() if k.endswith("/train"))
        rows.append(f"| {n} | {r['wall_seconds']:.2f} | {train:.2f} | {r['wall_seconds'] - train:.2f} |")
        print(rows[-1], {k: round(v, 2) for k, v in r["phase_seconds"].items()}, flush=True)
    return rows


def profile(jobs: list[int], sizes: list[int]) -> list[str]:
    env = {**os.environ, "WANDB_MODE": "offline"}
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = f"{tmp}/cache"
        run(["method=backbone", *[a for a in SMOKE if not a.startswith("method.")], f"cache_dir={cache}", f"hydra.run.dir={tmp}/pre"], env)
        measured = {}
        for n in jobs:
            measured[n] = sweep(n, cache, tmp, env)
            print(f"{n} jobs: {measured[n][0]:.1f} s", flush=True)
        if jobs:
            lines += ["(d) `sweep=bts64` with `make bts64-smoke`'s settings (digits / ResNet20, 5 head epochs, "
                      "boosted + non-boosted per job, W&B offline, backbone cached):", "",
                      "| configurations | sweep s | s per configuration |", "|---|---|---|"]
            lines += [f"| {n} | {s:.1f} | {s / n:.2f} |" for n, (s, _) in measured.items()] + [""]
            biggest = max(measured)
            lines += [f"Per-phase profile of the {biggest}-job sweep (mean over its jobs):", ""] + \
                phase_table(measured[biggest][1], measured[biggest][0]) + [""]
        if sizes:
            lines += ["(d) one bts64 job against the training-set size (synthetic, features of an untrained "
                      "ResNet20's last stage, 64x8x8, stored beforehand; 5 head epochs, batch 128, no logger):", ""]
            lines += size_rows(sizes, tmp, env) + [""]
    return lines


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from latency import environment, results_file
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="8,16,64", help="sweep sizes (of 8, 16, 32, 64)")
    ap.add_argument("--sizes", default="1000,10000,90000", help="training-set sizes for the one-job scaling row")
    ap.add_argument("--record", action="store_true", help="append to the tracked benchmarks/RESULTS.md")
    args = ap.parse_args()
    jobs = [int(j) for j in args.jobs.split(",") if j]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/sweep_profile.py --jobs {args.jobs} "
             f"--sizes {args.sizes}`", "", environment(), ""] + profile(jobs, sizes)
    print("\n".join(lines))
    out = results_file("RESULTS.md", args.record)
    with open(out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
