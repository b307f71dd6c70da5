"""Evaluation from cached exit outputs: pure tensor functions, so threshold sweeps cost nothing.

Every exit's output is computed once per split (``EarlyExitModule.predict_step`` through
``trainer.predict``, kept as :class:`eexit.exits.CachedExits`); every operating point is
then computed from them.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from eexit.exits.cached import CachedExits
from eexit.exits.rule import passes


def simulate(scores: torch.Tensor, head_pred: torch.Tensor, final_pred: torch.Tensor,
             thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Prediction and exit index per sample: the first head whose score passes the threshold
    of the class it predicts, otherwise the backbone (index E)."""
    num_exits, n = scores.shape
    if num_exits == 0:
        return final_pred.clone(), torch.zeros(n, dtype=torch.long)
    leave = passes(scores, head_pred, thresholds)                            # [E, N]
    leave = torch.cat([leave, torch.ones(1, n, dtype=torch.bool)])           # the backbone always "passes"
    exit_idx = leave.int().argmax(0)                                         # first True
    all_pred = torch.cat([head_pred, final_pred.view(1, -1)])
    return all_pred.gather(0, exit_idx.view(1, -1)).squeeze(0), exit_idx


def operating_point(pred: torch.Tensor, exit_idx: torch.Tensor, labels: torch.Tensor,
                    backbone_pred: torch.Tensor, cost_fractions: torch.Tensor) -> dict:
    """Accuracy (vs labels), agreement (vs backbone), expected cost fraction, exit fractions."""
    n = labels.numel()
    exit_fractions = torch.bincount(exit_idx, minlength=cost_fractions.numel()).double() / n
    return {"test_acc": float((pred == labels).double().mean()),
            "agreement": float((pred == backbone_pred).double().mean()),
            "cost_fraction": float((exit_fractions * cost_fractions.double()).sum()),
            "exit_fractions": exit_fractions.tolist()}


def evaluate(cached: CachedExits, score_kind: str, thresholds: torch.Tensor,
             cost_fractions: torch.Tensor) -> dict:
    pred, exit_idx = simulate(cached.scores(score_kind), cached.head_pred, cached.backbone_pred, thresholds)
    return operating_point(pred, exit_idx, cached.labels, cached.backbone_pred, cost_fractions)


def curve(cached: CachedExits, score_kind: str, settings: Iterable[float],
          thresholds_for: Callable[[float], torch.Tensor], cost_fractions: torch.Tensor) -> list[dict]:
    """One operating point per setting (a global threshold T, a CPM margin m, ...)."""
    scores = cached.scores(score_kind)
    points = []
    for s in settings:
        pred, exit_idx = simulate(scores, cached.head_pred, cached.backbone_pred, thresholds_for(s))
        points.append({"setting": float(s),
                       **operating_point(pred, exit_idx, cached.labels, cached.backbone_pred, cost_fractions)})
    return points


def pareto_front(points: list[dict]) -> list[dict]:
    """Points not dominated in (lower cost, higher accuracy), sorted by cost."""
    front, best = [], -1.0
    for p in sorted(points, key=lambda p: (p["cost_fraction"], -p["test_acc"])):
        if p["test_acc"] > best:
            front.append(p)
            best = p["test_acc"]
    return front


def headline(points: list[dict], backbone_acc: float, drops=(1, 2, 5), acc: str = "test_acc") -> dict:
    """For each allowed accuracy drop (in points): the largest cost reduction among operating
    points whose accuracy stays within it, or ``None`` when no point qualifies. Selecting on the
    curve it reports, this is the *oracle* (test-selected) headline when given the test curve."""
    out = {}
    for d in drops:
        best = best_within(points, backbone_acc, d, acc)
        out[f"drop_{d}pt"] = None if best is None else {"cost_reduction": 1 - best["cost_fraction"], acc: best[acc],
                                                       "agreement": best["agreement"], "setting": best["setting"]}
    return out


def best_within(points: list[dict], reference_acc: float, drop: float, acc: str) -> dict | None:
    """The cheapest point (ties: the more accurate) whose ``acc`` is within ``drop`` points of the reference."""
    ok = [p for p in points if p[acc] >= reference_acc - drop / 100 - 1e-12]
    return min(ok, key=lambda p: (p["cost_fraction"], -p[acc])) if ok else None


def validated_headline(val_points: list[dict], test_points: list[dict], backbone_val_acc: float,
                       drops=(1, 2, 5)) -> dict:
    """The reported headline: for each allowed drop, the setting is chosen on the validation curve
    (the cheapest whose validation accuracy is within the drop of the backbone's validation
    accuracy) and its numbers are read on the test curve at that same setting. ``val_points`` and
    ``test_points`` are the curves of one calibrator over the same settings, in the same order."""
    out = {}
    for d in drops:
        chosen = best_within([{**v, "_i": i} for i, v in enumerate(val_points)], backbone_val_acc, d, "val_acc")
        if chosen is None:
            out[f"drop_{d}pt"] = None
            continue
        t = test_points[chosen["_i"]]
        out[f"drop_{d}pt"] = {"setting": t["setting"], "cost_reduction": 1 - t["cost_fraction"],
                              "test_acc": t["test_acc"], "agreement": t["agreement"],
                              "val_acc": chosen["val_acc"], "val_cost_reduction": 1 - chosen["cost_fraction"]}
    return out
