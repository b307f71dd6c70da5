#!/usr/bin/env python
"""What eexit's batch-1 loop costs on top of its stages: ``python benchmarks/loop_overhead.py [--threads 1]``

For a CIFAR ResNet-20 and ResNet18 (3 conv1d heads after blocks chosen by the linear rule, random weights, BatchNorm
folded, one 32x32 image) it times, in alternation, ``net.infer_one`` with a max-softmax policy no sample passes
(every exit decides, nobody leaves), ``net.infer`` (the same through the batch entry point) and the same stage calls
with no decision, and prints the medians and the loop's overhead per image (``infer_one`` minus the stages).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eexit.bench.networks import build_net, random_images  # noqa: E402

from eexit.exits import ExitPolicy  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1500)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for arch in ("resnet20", "resnet18"):
        net = build_net(arch, "conv1d", "linear", 3, image_shape=(3, 32, 32))
        policy = ExitPolicy.global_threshold("max_softmax", 2.0, net.num_exits, 10)   # a score is at most 1
        x = random_images((3, 32, 32), 1)

        @torch.inference_mode()
        def stages():
            h = x
            for i in range(net.num_exits):
                h = net.stage(i, h)[0]
            return net.final(h)
        calls = {"infer_one": lambda: net.infer_one(x, policy), "infer": lambda: net.infer(x, policy),
                 "stages": stages}
        for fn in calls.values():
            for _ in range(50):
                fn()
        times = {k: [] for k in calls}
        for _ in range(args.repeats):
            for name, fn in calls.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        us = {k: 1e6 * sorted(v)[len(v) // 2] for k, v in times.items()}
        print(f"{arch}: infer_one {us['infer_one']:.0f} us, infer {us['infer']:.0f} us, stages alone "
              f"{us['stages']:.0f} us; the loop costs {us['infer_one'] - us['stages']:.0f} us per image "
              f"({100 * (us['infer_one'] / us['stages'] - 1):.1f} %)")


if __name__ == "__main__":
    main()
