#!/usr/bin/env python
"""Where a sweep job's time goes: ``python benchmarks/sweep_profile.py [--jobs 8,16,64] [--sizes 1000,10000,90000]``
(also ``make bench ARGS="--parts d"``).

1. Runs ``sweep=bts64`` with ``make bts64-smoke``'s settings (digits / ResNet20, 5 head epochs, W&B offline,
   backbone cached beforehand and not timed) on the first 8, 16 and 64 configurations of the grid, and reports
   whole-sweep wall time, time per job, and (largest sweep) the mean and median seconds of every phase of a job,
   read from each job's ``results.json`` (``phase_seconds``). Time outside the jobs (Hydra, imports, aggregation)
   is the sweep's wall time minus the jobs' own; between two jobs, from one's ``results.json`` to the next one's
   ``.hydra/config.yaml``. The steady state is the median job and gap: their share outside head training is the
   fixed cost per job.
   ``--root DIR`` times another checkout's ``run.py`` (an older commit: before/after, interleaved by hand).
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
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eexit.reporting.results_file import Results  # noqa: E402
SMOKE = ["data=digits", "backbone=resnet20", "data.batch_size=128", "pretrain.epochs=15", "method.epochs=5",
         "method.batch_size=128", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "group=profile"]
GRID = {"placement.rule": ["pareto", "fine", "linear", "gold_ratio"], "calibrator.margin": ["0.01", "0.02", "0.05", "0.1"],
        "head.width": ["16", "32", "64", "128"]}


def grid_overrides(jobs: int) -> list[str]:
    """Sweep overrides giving the first ``jobs`` configurations of the 4x4x4 grid (8: 2x2x2, 16: 4x2x2...)."""
    sizes = {8: (2, 2, 2), 16: (4, 2, 2), 32: (4, 4, 2), 64: (4, 4, 4)}[jobs]
    return [f"{k}={','.join(v[:n])}" for (k, v), n in zip(GRID.items(), sizes)]


def run(args: list[str], env: dict, cwd: str | Path = ROOT) -> float:
    """Seconds of ``eexit ARGS`` in the checkout ``cwd``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "run.py", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"run.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def sweep(jobs: int, cache: str, tmp: str, launch) -> tuple[float, list[dict], float]:
    """Wall seconds, the jobs' results and the median gap between one job's end and the next one's start."""
    folder = Path(tmp) / f"sweep{jobs}"
    seconds = launch(["-m", "sweep=bts64", *SMOKE, *grid_overrides(jobs), f"cache_dir={cache}",
                      f"hydra.sweep.dir={folder}"])
    return seconds, [Results.read(p) for p in folder.glob("*/results.json")], median_gap(folder)


def median_gap(folder: Path) -> float:
    """Between two jobs, outside both: from one job's ``results.json`` written to the next job's
    ``.hydra/config.yaml`` (Hydra writes it after composing the job's config, before calling the task), plus
    what the job does after writing its results (the summary, W&B's last words). The median pair is the
    steady state; the first job's imports are inside it."""
    jobs = sorted((p.stat().st_mtime, p.parent.parent) for p in folder.glob("*/.hydra/config.yaml"))
    ends = [(job / "results.json").stat().st_mtime for _, job in jobs]
    return statistics.median(start - end for (start, _), end in zip(jobs[1:], ends[:-1]))


def phase_table(results: list[dict], seconds: float) -> list[str]:
    """Mean and median seconds of every phase; the median job is the steady state (the mean carries the first
    job's imports and the feature extraction of each new placement)."""
    names = sorted({k for r in results for k in r["phase_seconds"]}, key=lambda k: -sum(
        r["phase_seconds"].get(k, 0) for r in results))
    per = {k: [r["phase_seconds"].get(k, 0.0) for r in results] for k in names}
    jobs = [r["wall_seconds"] for r in results]
    job = statistics.mean(jobs)
    rows = ["| phase | mean s per job | share | median s per job |", "|---|---|---|---|"]
    rows += [f"| {k} | {statistics.mean(v):.3f} | {100 * statistics.mean(v) / job:.0f} % | {statistics.median(v):.3f} |"
             for k, v in per.items()]
    outside = seconds / len(results) - job
    rows += [f"| (unaccounted inside the job) | {job - sum(map(statistics.mean, per.values())):.3f} | | |",
             f"| **job total** (`wall_seconds`) | **{job:.2f}** | | **{statistics.median(jobs):.2f}** |",
             f"| outside the jobs (Hydra, imports, aggregation), per job | {outside:.2f} | | |"]
    return rows


def steady_state(results: list[dict], gap: float) -> str:
    """The median job's share outside head training (``*/train``), with the median time between jobs (Hydra
    composing the next job, the summary): what a long sweep pays per job besides training."""
    train = [sum(v for k, v in r["phase_seconds"].items() if k.endswith("/train")) for r in results]
    job, trained = statistics.median(r["wall_seconds"] for r in results), statistics.median(train)
    out = f"Steady state (median job): head training {trained:.2f} s of {job:.2f} s, the rest {job - trained:.2f} s " \
          f"({100 * (job - trained) / job:.0f} %)"
    return out + (f"; between jobs {gap:.2f} s (median), so {100 * (job - trained + gap) / (job + gap):.0f} % of a "
                  f"job's time is not head training.")


def size_rows(sizes: list[int], tmp: str, launch) -> list[str]:
    rows = ["| training samples | job s | head training s | rest s |", "|---|---|---|---|"]
    for n in sizes:
        common = ["data=synthetic", "backbone=resnet20", "data.batch_size=128", f"data.train_size={n}", "data.val_size=1000",
                  "data.test_size=1000", "pretrain.epochs=0", "trainer.accelerator=cpu", "logger=none",
                  "trainer.enable_progress_bar=false", "placement.blocks=[7,8,9]", f"cache_dir={tmp}/cache{n}"]
        heads = ["method.epochs=5", "method.batch_size=128"]
        launch(["method=backbone", *common, f"hydra.run.dir={tmp}/pre{n}"])                    # not timed
        launch(["method=nonboosted", *common, "method.epochs=1", f"hydra.run.dir={tmp}/feat{n}"])  # features
        launch(["sweep=bts64", "placement.rule=linear", "calibrator.margin=0.02", "head.width=32", *common, *heads,
             f"hydra.sweep.dir={tmp}/size{n}", "-m"])
        r = Results.read(next(Path(tmp, f"size{n}").glob("*/results.json")))
        train = sum(v for k, v in r["phase_seconds"].items() if k.endswith("/train"))
        rows.append(f"| {n} | {r['wall_seconds']:.2f} | {train:.2f} | {r['wall_seconds'] - train:.2f} |")
        print(rows[-1], {k: round(v, 2) for k, v in r["phase_seconds"].items()}, flush=True)
    return rows


def profile(jobs: list[int], sizes: list[int], root: str) -> list[str]:
    launch = partial(run, env={**os.environ, "WANDB_MODE": "offline"}, cwd=root)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = f"{tmp}/cache"
        launch(["method=backbone", *[a for a in SMOKE if not a.startswith("method.")], f"cache_dir={cache}",
                f"hydra.run.dir={tmp}/pre"])
        measured = {}
        for n in jobs:
            measured[n] = sweep(n, cache, tmp, launch)
            print(f"{n} jobs: {measured[n][0]:.1f} s", flush=True)
        if jobs:
            lines += ["(d) `sweep=bts64` with `make bts64-smoke`'s settings (digits / ResNet20, 5 head epochs, "
                      "boosted + non-boosted per job, W&B offline, backbone cached):", "",
                      "| configurations | sweep s | s per configuration |", "|---|---|---|"]
            lines += [f"| {n} | {s:.1f} | {s / n:.2f} |" for n, (s, _, _) in measured.items()] + [""]
            biggest = max(measured)
            seconds, results, gap = measured[biggest]
            lines += [f"Per-phase profile of the {biggest}-job sweep:", ""] + phase_table(results, seconds) + \
                ["", steady_state(results, gap), ""]
        if sizes:
            lines += ["(d) one bts64 job against the training-set size (synthetic, features of an untrained "
                      "ResNet20's last stage, 64x8x8, stored beforehand; 5 head epochs, batch 128, no logger):", ""]
            lines += size_rows(sizes, tmp, launch) + [""]
    return lines


def commit_of(root: str) -> str:
    done = subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=root, capture_output=True, text=True)
    return done.stdout.strip()[:90] or root


def main() -> None:
    from eexit.bench.records import environment, results_file
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="8,16,64", help="sweep sizes (of 8, 16, 32, 64)")
    ap.add_argument("--sizes", default="1000,10000,90000", help="training-set sizes for the one-job scaling row")
    ap.add_argument("--record", action="store_true", help="append to the tracked benchmarks/RESULTS.md")
    ap.add_argument("--root", default=str(ROOT), help="the checkout whose run.py is timed (default: this one)")
    args = ap.parse_args()
    jobs = [int(j) for j in args.jobs.split(",") if j]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/sweep_profile.py --jobs {args.jobs} "
             f"--sizes {args.sizes}{'' if args.root == str(ROOT) else ' --root ' + args.root}`", "", environment(),
             f"Timed checkout: {commit_of(args.root)}", ""] + profile(jobs, sizes, args.root)
    print("\n".join(lines))
    out = results_file("RESULTS.md", args.record)
    with open(out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
