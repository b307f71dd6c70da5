#!/usr/bin/env python
"""``make bench``: framework speed against plain PyTorch, in one process on the same data.

    python benchmarks/bench.py [--quick] [--parts abcd]

(a) training images/s of the framework (EarlyExitModule + the lean Trainer) against a
    plain PyTorch loop with the same model, batch, precision and data placement -> ratio;
(b) all-exit evaluation (``forward_all`` + caching every exit's output) time per image,
    scaled to 90k CINIC-sized images;
(c) real-skip speed-up against the FLOP- and stage-time-predicted ones (benchmarks/latency.py);
(d) where a ``sweep=bts64`` job's time goes: per-phase profile, 8/16/64-job scaling, training-set
    scaling (benchmarks/sweep_profile.py); on a GPU also 64 jobs on 90k synthetic images.
GPU: ResNet18, batch 1024, bf16, 90k synthetic images, all 64 sweep jobs. CPU (no GPU):
ResNet20, batch 256, fp32, small sizes; the ratios still mean something.
Appends device, versions, command and tables to benchmarks/local/RESULTS.md (not tracked by git);
``--record`` appends them to the tracked benchmarks/RESULTS.md instead.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eexit.bench.networks import build_net  # noqa: E402
from eexit.bench.records import environment, results_file  # noqa: E402
from eexit.bench.real_skip import mix_rows, table  # noqa: E402
from eexit.bench.training_speed import DEVICE, GPU, sync, synthetic, training_rows  # noqa: E402
from eexit.data.loader import TensorBatchLoader  # noqa: E402
from eexit.training import quiet_lightning  # noqa: E402
from eexit.training import predict_exits  # noqa: E402



def all_exit_eval(arch: str, n: int, batch: int) -> float:
    """Seconds for every exit's output over ``n`` images through ``trainer.predict`` (as evaluation runs it)."""
    net = build_net(arch, "conv1d", "linear", 3, fold=False).to(DEVICE)
    images, labels = synthetic(n, seed=1)
    data = TensorBatchLoader(images, labels, batch, torch.full((3,), 0.5), torch.full((3,), 0.25))
    predict_exits(net, [next(iter(data))], DEVICE.type)  # warm-up
    sync()
    start = time.perf_counter()
    predict_exits(net, data, DEVICE.type)
    sync()
    return time.perf_counter() - start


def sweep_wall(arch: str, sizes: tuple[int, int, int], jobs_grid: list[str], epochs: int) -> tuple[float, int]:
    """Wall seconds of an in-process bts64 multirun on synthetic data, backbone trained first (not timed)."""
    with tempfile.TemporaryDirectory() as tmp:
        common = ["data=synthetic", f"backbone={arch}", f"data.train_size={sizes[0]}", f"data.val_size={sizes[1]}",
                  f"data.test_size={sizes[2]}", "pretrain.epochs=1", f"++method.epochs={epochs}",
                  "logger=none", "trainer.enable_progress_bar=false", f"cache_dir={tmp}/cache",
                  f"data.batch_size={1024 if GPU else 256}", f"++method.batch_size={1024 if GPU else 256}"]
        env = {**os.environ, "WANDB_MODE": "disabled"}
        subprocess.run([sys.executable, "run.py", "method=backbone", *common, f"hydra.run.dir={tmp}/pre"],
                       cwd=ROOT, check=True, capture_output=True, env=env)
        start = time.perf_counter()
        subprocess.run([sys.executable, "run.py", "-m", "sweep=bts64", *common, *jobs_grid,
                        f"hydra.sweep.dir={tmp}/sweep"], cwd=ROOT, check=True, capture_output=True, env=env)
        seconds = time.perf_counter() - start
        jobs = len(list(Path(tmp, "sweep").glob("*/results.json")))
    return seconds, jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a rough check in about a minute)")
    ap.add_argument("--parts", default="abcd", help="which measurements to run, e.g. 'c' or 'ab'")
    ap.add_argument("--record", action="store_true", help="append to the tracked benchmarks/RESULTS.md")
    args = ap.parse_args()
    if not set(args.parts) <= set("abcd"):
        ap.error(f"--parts takes letters from 'abcd', got '{args.parts}'")
    quiet_lightning()
    torch.set_float32_matmul_precision("high")
    arch = "resnet18" if GPU else "resnet20"
    n_train, batch, epochs = (20480, 1024, 3) if GPU else ((1024, 256, 1) if args.quick else (2048, 256, 2))
    images, labels = synthetic(n_train)
    flags = (" --quick" if args.quick else "") + (f" --parts {args.parts}" if args.parts != "abcd" else "")
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/bench.py{flags}`", "", environment(), ""]

    if "a" in args.parts:
        lines += training_rows(arch, images, labels, batch, epochs, n_train)
        print("\n".join(lines[-8:]))
    if "b" in args.parts:
        n_eval = 90000 if GPU else (2048 if args.quick else 4096)
        seconds = all_exit_eval(arch, n_eval, 4096 if GPU else 512)
        lines += [f"(b) all-exit evaluation ({arch} + 3 conv1d heads, every exit cached): {n_eval} images in "
                  f"{seconds:.2f} s ({n_eval / seconds:.0f} images/s; 90k images -> {90000 * seconds / n_eval:.1f} s)", ""]
        print(lines[-2])
    if "c" in args.parts:
        net = build_net("resnet18", "conv1d", "linear", 3)
        settings = [("cpu", 1), ("cpu", 64)] + ([("cuda", 1024)] if GPU else [])
        rows = [r for dev, b in settings for r in mix_rows(net, torch.device(dev), b, 16 if args.quick else 64)]
        lines += ["(c) real-skip inference, resnet18 + 3 conv1d heads (linear rule), BatchNorm folded, fp32:", ""] \
            + table(rows) + [""]
        print("\n".join(table(rows)))
    if "d" in args.parts:
        lines += sweep_rows(arch, args.quick)
        print("\n".join(lines[-12:]))
    out = results_file("RESULTS.md", args.record)
    with open(out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {out}")


def sweep_rows(arch: str, quick: bool) -> list[str]:
    """(d): the per-phase sweep profile of ``make bts64-smoke`` (benchmarks/sweep_profile.py) and, on a
    GPU, the wall time of all 64 jobs on 90k synthetic images with ResNet18."""
    from sweep_profile import profile
    lines = profile([8] if quick else [8, 16, 64], [1000] if quick else [1000, 10000, 90000])
    if GPU:
        sizes = (90000, 90000, 90000)
        seconds, jobs = sweep_wall(arch, sizes, [], 20)
        lines += [f"(d) GPU: sweep=bts64 on synthetic {sizes[0]}/{sizes[1]}/{sizes[2]} images, {arch}, backbone "
                  f"cached, 20 head epochs: {jobs} jobs in {seconds:.0f} s ({seconds / max(jobs, 1):.1f} s per job)", ""]
    return lines

if __name__ == "__main__":
    main()
