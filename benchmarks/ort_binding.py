#!/usr/bin/env python
"""Does onnxruntime's IO binding beat ``OnnxStage``'s plain ``session.run``? ``python benchmarks/ort_binding.py``

``OnnxStage`` hands onnxruntime the torch tensor's memory as a numpy array and wraps the numpy outputs back into
torch tensors, without a copy either way. IO binding (inputs bound in place, outputs allocated by onnxruntime and
read back) is the documented way to keep data out of Python between calls; this times both, in alternation, on the
first stage of a CIFAR ResNet18 early-exit network (3 conv1d heads, random weights, BatchNorm folded) exported to
ONNX, at batch 1, 32 and 64, with one thread and two. Prints the medians and their ratio (> 1: binding is slower).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eexit.bench.networks import build_net  # noqa: E402

from eexit.deploy.onnx import OnnxStage, export_stage  # noqa: E402


class FirstStage(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        features, out = self.net.stage(0, x)
        return features, out.logits


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * sorted(times)[len(times) // 2]


def main() -> None:
    net = build_net("resnet18", "conv1d", "linear", 3, image_shape=(3, 32, 32))
    folder = Path(tempfile.mkdtemp())
    export_stage(FirstStage(net).eval(), torch.zeros(2, 3, 32, 32), folder / "stage0.onnx", last=False)
    for threads in (1, 2):
        stage = OnnxStage(folder / "stage0.onnx", threads=threads)
        session = stage.session
        for batch in (1, 32, 64):
            x = torch.randn(batch, 3, 32, 32)

            def bound():
                io = session.io_binding()
                io.bind_cpu_input(stage.input, x.numpy())
                for out in session.get_outputs():
                    io.bind_output(out.name, "cpu")
                session.run_with_iobinding(io)
                return [torch.from_numpy(v) for v in io.copy_outputs_to_cpu()]
            for fn in (lambda: stage(x), bound) * 3:
                fn()
            repeats = 300 if batch == 1 else 30
            plain, binding = [], []
            for _ in range(repeats):
                plain.append(median_ms(lambda: stage(x), 1))
                binding.append(median_ms(bound, 1))
            a, b = sorted(plain)[repeats // 2], sorted(binding)[repeats // 2]
            print(f"threads {threads} batch {batch}: session.run {a:.3f} ms, IO binding {b:.3f} ms, ratio {b / a:.3f}")


if __name__ == "__main__":
    main()
