"""``report``: a run's :class:`~eexit.reporting.results_file.Results` from what the run measured, as a pure function.

The pipeline gathers the facts (data, backbone, costs), the evaluated regimes and, when the method compares
two of them, which pair; this puts them together: the primary regime's curve and headline at top level,
the headlines of every regime, the guards a reader needs and the comparison. Nothing here names a regime.
"""
from __future__ import annotations

import dataclasses

from eexit.reporting.guards import guards
from eexit.reporting.results_file import Results

PRIMARY_KEYS = ("exits", "curve", "pareto_front", "headline", "oracle", "operating_point", "val_curve", "cost_table")


def report(facts: dict, regimes: dict[str, dict], primary: str | None = None,
           pair: tuple[str, str] | None = None) -> Results:
    """``facts``: the run's own fields (dataset, backbone, method, seed, backbone accuracy and costs, ...);
    ``regimes``: each evaluated regime's record; ``primary``: the one leading the file; ``pair``: two regimes
    the run compares (their headline savings and the difference)."""
    if not regimes:
        return Results(**facts)
    out = {**facts, **{k: regimes[primary][k] for k in PRIMARY_KEYS}, "regimes": regimes,
           "headline_selection": "validation",   # "oracle": the same, selected on test
           "headlines": {name: r["headline"] for name, r in regimes.items()}}
    if pair:
        out["comparison"] = compare(regimes, *pair)
    out["guards"] = guards(out)
    return Results(**out)


def with_times(results: Results, phase_seconds: dict, wall_seconds: float, peak_host_bytes: int,
               peak_gpu_bytes: int) -> Results:
    """The same results with the run's timings and memory peaks."""
    return dataclasses.replace(results, phase_seconds=dict(phase_seconds), wall_seconds=wall_seconds,
                               peak_host_bytes=peak_host_bytes, peak_gpu_bytes=peak_gpu_bytes)


def compare(regimes: dict[str, dict], a: str, b: str) -> dict:
    """Regime ``a`` against ``b`` in one run: both cost reductions per allowed drop (validation-
    selected headlines) and their difference. One seed: no verdict; the sweep summary pairs seeds."""
    out = {"pair": [a, b]}
    for drop, point in regimes[a]["headline"].items():
        x = (point or {}).get("cost_reduction")
        y = (regimes[b]["headline"].get(drop) or {}).get("cost_reduction")
        out[drop] = {a: x, b: y, "difference": None if x is None or y is None else x - y}
    return out
