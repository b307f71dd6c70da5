"""The statistics a reader needs to trust a number: intervals over seeds and over test samples.

- ``mean_interval``: mean of a per-seed quantity and its two-sided 95 % Student-t interval
  (``mean ± t(0.975, n−1) · sd / √n``; assumes the seeds' values are independent draws of a
  roughly normal quantity; no interval for fewer than two seeds).
- ``paired_verdict``: the same interval on per-seed differences (A − B with both from the same
  seed), and the verdict ``better`` / ``worse`` when it excludes 0, ``indistinguishable`` when it
  holds 0, ``single seed`` when there is no interval (never counted as a win).
- ``two_level_interval``: the 95 % percentile interval of a mean over seeds of per-test-sample values, by a
  two-level bootstrap (resample the seeds, then each drawn seed's test samples): it holds both the spread between
  seeds and the finite test set, so two seeds that agree exactly still get the test set's width. A paired
  difference passes per-sample differences (both regimes on the same test images), so both are resampled together.
- ``bootstrap_p`` and ``holm``: a comparison's p-value from its bootstrap draws, and Holm's adjustment over the
  family of comparisons a sweep makes (counts of "better"/"worse" are given raw and adjusted).
- ``accuracy_interval``: Wilson's 95 % score interval of an accuracy measured on ``n`` samples
  (a binomial proportion; unlike the normal approximation it stays inside [0, 1] at 0 % and 100 %).
"""
from __future__ import annotations

import math
import statistics

import numpy as np
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


def two_level_interval(per_seed: list, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of :func:`two_level_draws`."""
    means = two_level_draws(per_seed, draws, seed)
    if means is None:
        return math.nan, math.nan
    low, high = np.percentile(means, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(low), float(high)


def two_level_draws(per_seed: list, draws: int = 1000, seed: int = 0, chunk: int = 64) -> np.ndarray | None:
    """``per_seed``: one array of per-test-sample values per seed. Each draw picks as many seeds as there are, with
    replacement, and resamples the test samples with replacement; the statistic is the mean over the picked seeds
    of their resampled means. When every seed was tested on equally many samples they are taken to be the same
    test images (eexit's seeds share one test split), so one resample of indices serves every pick of a draw: the
    test set's noise is not averaged away over seeds that saw the same images. Otherwise each pick resamples its
    own. Returns the ``draws`` statistics (fixed ``seed``: same data, same draws), ``None`` without data."""
    values = [np.asarray(v, dtype=np.float64) for v in per_seed if len(v)]
    if not values:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(draws, len(values)))
    shared = len({len(v) for v in values}) == 1
    means = np.empty(picks.shape)
    for start in range(0, draws, chunk):
        rows = slice(start, min(draws, start + chunk))
        count = rows.stop - rows.start
        common = rng.integers(0, len(values[0]), size=(count, len(values[0]))) if shared else None
        for s, v in enumerate(values):
            idx = common if shared else rng.integers(0, len(v), size=(count, len(v)))
            resampled = v[idx].mean(1)                                   # [count]: seed s under each draw's resample
            hit = picks[rows] == s
            means[rows][hit] = np.broadcast_to(resampled[:, None], hit.shape)[hit]
    return means.mean(1)


def t_p(differences: list[float]) -> float:
    """Two-sided p-value of a one-sample t-test of "mean difference 0" over seeds (0 or 1 when they do not vary)."""
    if statistics.pstdev(differences) == 0:
        return 1.0 if statistics.fmean(differences) == 0 else 0.0
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided p-value of "the difference is 0" from bootstrap draws of it: twice the smaller share of draws on
    either side of 0 (capped at 1)."""
    return float(min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))))


def holm(pvalues: list[float], alpha: float = 1 - LEVEL) -> list[bool]:
    """Holm's step-down rejections at family-wise error ``alpha``: valid under any dependence between the tests
    (a sweep's comparisons share backbones and baselines, which Benjamini-Hochberg's independence-like condition
    would not cover)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - rank):
            break
        rejected[i] = True
    return rejected
