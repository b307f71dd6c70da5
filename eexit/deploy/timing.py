"""Timing that survives a shared, drifting machine: calls timed in alternating rounds, medians and percentiles
(the ratio of paired timings with its interval: ``eexit/bench/ratios.py``)."""
from __future__ import annotations

import math
import time

import torch


def timed(fn, repeats: int, device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls, after warm-up."""
    return timed_pair(fn, None, repeats, device)[0]


def timed_pair(fn_a, fn_b, repeats: int, device) -> tuple[float, float | None]:
    """Median seconds of ``fn_a()`` and ``fn_b()`` timed in alternation, after warm-up.

    Alternating the two calls exposes both to the same drift of a shared or throttled
    machine, so their ratio is steadier than that of two separate timing runs."""
    times = timed_together([f for f in (fn_a, fn_b) if f is not None], repeats, device)
    return middle(times[0]), (middle(times[1]) if fn_b is not None else None)


def middle(seconds: list[float]) -> float:
    """The median of timings (the upper one of an even count: always a measured value)."""
    return sorted(seconds)[len(seconds) // 2]


def timed_together(fns: list, repeats: int, device, warmup: int = 3) -> list[list[float]]:
    """Seconds of every call of each of ``fns``, ``repeats`` rounds after ``warmup`` rounds: round i of each is
    measured under the same conditions (a pair, for two). The order turns each round (a, b, then b, a; a, b, c,
    then b, c, a, ...), so none is always the one that runs right after another (a batch-1 loop timed right after
    another measured differently from the same loop timed first)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    order = list(range(len(fns)))
    for r in range(repeats):
        turn = order[r % len(fns):] + order[:r % len(fns)]
        for i in turn:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fns[i]()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[i].append(time.perf_counter() - t)
    return times


def percentiles(times: list[float]) -> list[float]:
    """p50, p95 and p99 of ``times``, in milliseconds (nearest rank)."""
    ordered = sorted(times)
    return [1e3 * ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] for q in (0.5, 0.95, 0.99)]


def one_by_one(plain, skip, xs: list[torch.Tensor], repeats: int, device) -> dict:
    """Each sample timed alone at batch 1, the plain network and the real skip in alternation on the same sample
    (after a warm-up pass): per-sample latency percentiles of both, and the median over repeats of the time for
    the whole set (the speed-up)."""
    for x in xs[:8]:
        plain(x), skip(x)
    per = {"plain": [], "skip": []}
    totals = {"plain": [], "skip": []}
    for _ in range(repeats):
        run = {"plain": 0.0, "skip": 0.0}
        for x in xs:
            for name, fn in (("plain", plain), ("skip", skip)):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                fn(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                per[name].append(time.perf_counter() - t)
                run[name] += per[name][-1]
        for name in run:
            totals[name].append(run[name])
    median = {k: middle(v) for k, v in totals.items()}
    return {"plain_time": median["plain"], "skip_time": median["skip"],
            "plain_ms": percentiles(per["plain"]), "skip_ms": percentiles(per["skip"])}
