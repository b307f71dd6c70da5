#!/usr/bin/env python
"""Real-skip early-exit inference against the plain backbone, beside the FLOP-predicted speed-up.

    python benchmarks/latency.py [--backbone resnet18] [--head conv1d] [--rule linear] [--exits 3]

For three exit mixes (fractions leaving at each head, the rest at the backbone) the
thresholds are set on a calibration batch so the mix is met; then ``infer`` (which
drops exited samples from the batch) is timed against ``backbone(x)`` at batch 1
and 64 on the CPU, and 1024 on a GPU when present. Weights are random: latency does
not depend on them. Appends a table to benchmarks/RESULTS-latency.md.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eexit.costs import exit_costs  # noqa: E402
from eexit.evaluation import collect, simulate  # noqa: E402
from eexit.exits import ExitPolicy  # noqa: E402
from eexit.flops import block_macs, cumulative  # noqa: E402
from eexit.models.backbones import build_backbone  # noqa: E402
from eexit.models.early_exit import EarlyExitNet  # noqa: E402
from eexit.models.heads import build_head  # noqa: E402
from eexit.placement import place_by_rule  # noqa: E402

MIXES = {"early-heavy": [0.6, 0.2, 0.1], "balanced": [0.3, 0.2, 0.2], "late": [0.1, 0.1, 0.2]}


def thresholds_for_mix(scores: torch.Tensor, mix: list[float]) -> torch.Tensor:
    """Per-head global thresholds so that fraction ``mix[k]`` of all samples leaves at head k."""
    n = scores.shape[1]
    alive = torch.ones(n, dtype=torch.bool)
    rows = []
    for k, frac in enumerate(mix):
        want = int(round(frac * n))
        s = scores[k][alive].sort(descending=True).values
        thr = float(s[want - 1]) if want > 0 else float("inf")
        rows.append(thr)
        alive &= ~(scores[k] >= thr)
    return torch.tensor(rows).view(-1, 1).expand(-1, 10).contiguous()


def timed(fn, repeats: int, device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls, after warm-up."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--head", default="conv1d")
    ap.add_argument("--rule", default="linear")
    ap.add_argument("--exits", type=int, default=3)
    ap.add_argument("--samples", type=int, default=64, help="samples timed one by one at batch 1")
    ap.add_argument("--out", default=str(Path(__file__).parent / "RESULTS-latency.md"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = False  # changing survivor shapes: never autotune per shape
    bb = build_backbone(args.backbone).eval()
    attach = place_by_rule(args.rule, args.exits, cumulative(block_macs(bb)))
    shapes = bb.feature_shapes()
    net = EarlyExitNet(bb, attach, [build_head(args.head, shapes[a], 10) for a in attach]).eval()
    costs = exit_costs(net)
    settings = [("cpu", 1), ("cpu", 64)] + ([("cuda", 1024)] if torch.cuda.is_available() else [])
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/latency.py "
             f"--backbone {args.backbone} --head {args.head} --rule {args.rule} --exits {args.exits}`", "",
             f"Device: {platform.processor() or platform.machine()}, {torch.get_num_threads()} CPU threads"
             + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
             + f"; torch {torch.__version__}; fp32; attach blocks {attach}; exit cost fractions "
             + ", ".join(f"{c:.3f}" for c in costs.fractions.tolist()), "",
             "| device | batch | mix | exit fractions | FLOP-predicted | measured | measured / predicted |",
             "|---|---|---|---|---|---|---|"]
    print("\n".join(lines))
    for dev_name, batch in settings:
        device = torch.device(dev_name)
        net.to(device)
        gen = torch.Generator().manual_seed(1)
        calib = torch.randn(2048, 3, 32, 32, generator=gen)
        cached = collect(net, [(calib[i:i + 512].to(device), torch.zeros(512, dtype=torch.long))
                               for i in range(0, 2048, 512)])
        scores = cached.scores("max_softmax")
        for mix_name, mix in MIXES.items():
            thr = thresholds_for_mix(scores, mix)
            policy = ExitPolicy("max_softmax", thr)
            _, ex = simulate(scores, cached.head_pred, cached.backbone_pred, thr)
            frac = torch.bincount(ex, minlength=len(attach) + 1).double() / ex.numel()
            predicted = 1 / costs.expected(frac)
            if batch == 1:
                xs = [calib[i:i + 1].to(device) for i in range(args.samples)]
                with torch.no_grad():
                    plain = timed(lambda: [bb(x) for x in xs], 3, device)
                    skip = timed(lambda: [net.infer(x, policy) for x in xs], 3, device)
            else:
                x = calib[:batch].to(device)
                with torch.no_grad():
                    plain = timed(lambda: bb(x), 20, device)
                    skip = timed(lambda: net.infer(x, policy), 20, device)
            measured = plain / skip
            row = (f"| {dev_name} | {batch} | {mix_name} | {'/'.join(f'{100 * f:.0f}' for f in frac.tolist())} | "
                   f"{predicted:.2f}x | {measured:.2f}x | {measured / predicted:.2f} |")
            print(row)
            lines.append(row)
    with open(args.out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
