"""The rates a plan is made of, measured here and now on the run's device: the backbone's forward throughput (at
the extraction batch, and at batch 1 for the time-saving measurement) and one training step of the heads on
features of the stored shape. Each is a median of several calls, measured once per process (the jobs of an
in-process sweep share them).
"""
from __future__ import annotations

import math
import statistics
import time

import torch

def timed(step, calls: int = 5, budget: float = 1.0) -> float:
    """Median seconds per call of ``step`` over ``calls`` calls after one warm-up call (fewer, never under 3, when
    they would take more than ``budget`` seconds): one call's time, multiplied by every epoch of a run, made
    three plans of one run differ by 11x (issue 37); a median of several is what noise cannot move as far."""
    def once() -> float:
        t = time.perf_counter()
        step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - t
    first = once()   # the warm-up, timed to size the rest
    times = [once() for _ in range(max(3, min(calls, int(budget / max(first, 1e-6)))))]
    return statistics.median(times)


RATES: dict[tuple, float] = {}   # measured once per process (the jobs of an in-process sweep share them)


def forward_rate(backbone, image_shape, batch: int = 256) -> float:
    """Images per second through the whole backbone (eval, inference mode), on its device, at the batch
    extraction uses (capped at 256: on this project's 2-core CPU ResNet18 runs 227 images/s at batch 64
    but 156 at 256 and 152 at 512, so a small batch would promise a faster extraction than happens)."""
    device = next(backbone.parameters()).device
    key = (getattr(backbone, "arch", type(backbone).__name__), str(device), tuple(image_shape), batch)
    if key not in RATES:
        x = torch.randn(batch, *image_shape, device=device)
        with torch.inference_mode():
            RATES[key] = batch / timed(lambda: backbone.eval()(x), calls=3)
    return RATES[key]


POINTS = 4   # distinct operating points a regime times, typically (at most 7: 3 headlines, 3 budget rows, the deployed one)


def time_saving_seconds(backbone, image_shape, samples: int | None) -> float:
    """One regime's time-saving measurement (``deploy/time_saving.py``) for ``POINTS`` points: per point, every image
    at batch 1 through both paths twice (and a warm-up), and the batch of them through both 10 times."""
    if not samples:
        return 0.0
    one = 1 / forward_rate(backbone, image_shape, batch=1)
    return POINTS * (samples * 2 * 2 * one + 4 * 2 * one + 10 * 2 * samples / forward_rate(backbone, image_shape,
                                                                                       batch=samples))


def timing_batch(image_shape, eval_batch: int) -> int:
    """The batch the forward rate is timed at: the extraction batch, at most 256 images of 32x32 worth of
    pixels (a 224x224 ResNet50 on a CPU would otherwise spend many seconds of every run being timed)."""
    return max(1, min(eval_batch, 256, 256 * 32 * 32 // math.prod(image_shape[1:])))


def head_step_seconds(net, shapes: list[tuple], batch: int, dtype: torch.dtype) -> float:
    """One training step of every head on a batch of stored features: gather from a stored-dtype
    tensor, to float32, forward, backward, Adam. Measured once per process for each set of heads (their
    layers, as printed), input shapes, batch, dtype and device: the jobs of a bts64 sweep share 16."""
    device = next(net.parameters()).device
    key = ("heads", repr(net.heads), tuple(map(tuple, shapes)), batch, str(dtype), str(device))
    if key not in RATES:
        RATES[key] = _head_step(net, shapes, batch, dtype, device)
    return RATES[key]


def _head_step(net, shapes, batch, dtype, device) -> float:
    store = [torch.randn(batch * 2, *s).to(dtype).to(device) for s in shapes]
    idx = torch.randperm(batch * 2, device=device)[:batch]
    opt = torch.optim.Adam(net.heads.parameters(), lr=1e-3)
    net.heads.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = sum(h(f.index_select(0, idx).float()).logits.logsumexp(1).mean() for h, f in zip(net.heads, store))
        loss.backward()
        opt.step()
    return timed(step)
