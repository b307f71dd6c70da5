"""The ratio of paired timings (one library against another, round by round) with its interval and verdict."""
from __future__ import annotations

import math


def ratio_interval(a: list[float], b: list[float]) -> dict:
    """Ratio a / b of paired timings: the geometric mean of the pairs' ratios and its 95 % Student-t interval (on
    the log ratios), with the verdict ``faster`` / ``slower`` when the interval excludes 1, else
    ``indistinguishable``."""
    from eexit.reporting.stats import mean_interval
    logs = mean_interval([math.log(x / y) for x, y in zip(a, b)])
    ratio = {k: None if logs[k] is None else math.exp(logs[k]) for k in ("mean", "low", "high")}
    ratio["pairs"] = logs["n"]
    ratio["verdict"] = ("one pair" if ratio["low"] is None else "faster" if ratio["high"] < 1
                        else "slower" if ratio["low"] > 1 else "indistinguishable")
    return ratio
