"""The statistics a reader needs to trust a number: intervals over seeds and over test samples.

- ``mean_interval``: mean of a per-seed quantity and its two-sided 95 % Student-t interval
  (``mean ± t(0.975, n−1) · sd / √n``; assumes the seeds' values are independent draws of a
  roughly normal quantity; no interval for fewer than two seeds).
- ``paired_verdict``: the same interval on per-seed differences (A − B with both from the same
  seed), and the verdict ``better`` / ``worse`` when it excludes 0, ``indistinguishable`` when it
  holds 0, ``single seed`` when there is no interval (never counted as a win).
- ``accuracy_interval``: Wilson's 95 % score interval of an accuracy measured on ``n`` samples
  (a binomial proportion; unlike the normal approximation it stays inside [0, 1] at 0 % and 100 %).
"""
from __future__ import annotations

import math
import statistics

from scipy import stats

LEVEL = 0.95


def mean_interval(values: list[float]) -> dict:
    """``{n, mean, std, low, high}``; ``std``, ``low``, ``high`` are ``None`` for fewer than two values
    (scipy's Student-t interval; a zero spread is a zero-width interval, which scipy leaves undefined)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "low": None, "high": None}
    mean = statistics.fmean(values)
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "low": None, "high": None}
    std = statistics.stdev(values)
    low, high = stats.t.interval(LEVEL, n - 1, loc=mean, scale=std / math.sqrt(n)) if std > 0 else (mean, mean)
    return {"n": n, "mean": mean, "std": std, "low": float(low), "high": float(high)}


def verdict(interval: dict, tolerance: float = 1e-12) -> str:
    """``better`` / ``worse`` when the interval of a difference excludes 0, else ``indistinguishable``."""
    if interval["low"] is None:
        return "single seed"
    if interval["low"] > tolerance:
        return "better"
    if interval["high"] < -tolerance:
        return "worse"
    return "indistinguishable"


def paired_verdict(a: dict, b: dict) -> dict:
    """``a``, ``b``: seed -> value. The interval of ``a − b`` over the seeds both have, and its verdict."""
    seeds = sorted(set(a) & set(b))
    diff = mean_interval([a[s] - b[s] for s in seeds])
    return {**diff, "seeds": seeds, "verdict": verdict(diff)}


def accuracy_interval(acc: float, n: int) -> tuple[float, float]:
    """Wilson's 95 % interval of an accuracy ``acc`` measured on ``n`` samples (scipy's ``binomtest``)."""
    if n <= 0:
        return 0.0, 1.0
    ci = stats.binomtest(round(acc * n), n).proportion_ci(LEVEL, method="wilson")
    return float(ci.low), float(ci.high)
