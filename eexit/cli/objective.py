"""The number the ``eexit`` command returns to a Hydra sweeper (``hydra/sweeper=optuna`` maximises it).

``objective.metric``:
- ``saving`` (default): the primary regime's compute reduction (0..1) at the largest saving whose
  accuracy stays within ``objective.drop`` points of the backbone's;
- ``accuracy``: the best accuracy among operating points costing at most ``objective.budget`` of the
  backbone's MACs.

``objective.split=val`` (default) measures on validation, where the thresholds were calibrated, so a
search never selects on test; ``test`` reads the test numbers of the same validation-selected
headline (what ``results.json``'s headline reports) or the test curve. A job that has nothing to offer
(no qualifying point, or the ``backbone`` method) scores 0.
"""
from __future__ import annotations

from eexit.errors import EExitError

METRICS = ("saving", "accuracy")


def objective_value(results: dict, objective) -> float:
    metric, split = objective.get("metric", "saving"), objective.get("split", "val")
    if metric not in METRICS or split not in ("val", "test"):
        raise EExitError(f"objective.metric={metric} / objective.split={split}: give metric saving or accuracy, "
                         f"split val or test")
    if "curve" not in results:   # method=backbone: no exits, nothing saved
        return 0.0
    acc = "val_acc" if split == "val" else "test_acc"
    if metric == "saving":
        drop = int(objective.get("drop", 2))
        point = results["headline"].get(f"drop_{drop}pt")
        return float(point["val_cost_reduction" if split == "val" else "cost_reduction"]) if point else 0.0
    budget = float(objective.get("budget", 0.5))
    points = results["val_curve" if split == "val" else "curve"]
    return max((float(p[acc]) for p in points if p["cost_fraction"] <= budget + 1e-12), default=0.0)
