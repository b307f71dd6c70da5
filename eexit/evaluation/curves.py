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
    settings = [float(s) for s in settings]
    if not settings:
        return []
    table = torch.stack([thresholds_for(s) for s in settings])
    points = operating_points(cached, cached.scores(score_kind), table, cost_fractions)
    return [{"setting": s, **p} for s, p in zip(settings, points)]


def operating_points(cached: CachedExits, scores: torch.Tensor, thresholds: torch.Tensor,
                     cost_fractions: torch.Tensor, chunk: int = 64) -> list[dict]:
    """:func:`operating_point` of :func:`simulate` for every threshold table of ``thresholds [T, E, K]``,
    ``chunk`` tables at a time (memory: chunk x E x N booleans). Equal to calling them one table at a time (a
    test checks it) but in a few tensor operations: the trade-off curve and the budgeted analyses try 20-250
    tables per regime, and one call per table was 0.17 s of a 5.7 s bts64-smoke job (cProfile, 8 jobs)."""
    num_exits, n = scores.shape
    if num_exits == 0:
        return [operating_point(*simulate(scores, cached.head_pred, cached.backbone_pred, t), cached.labels,
                                cached.backbone_pred, cost_fractions) for t in thresholds]
    all_pred = torch.cat([cached.head_pred, cached.backbone_pred.view(1, -1)])          # [E+1, N]
    costs, points = cost_fractions.double(), []
    for table in thresholds.split(chunk):
        t = table.shape[0]
        leave = passes(scores.expand(t, -1, -1), cached.head_pred.expand(t, -1, -1), table)   # [t, E, N]
        leave = torch.cat([leave, leave.new_ones(t, 1, n)], 1)
        exit_idx = leave.int().argmax(1)                                                      # [t, N]
        pred = all_pred.gather(0, exit_idx)
        acc = (pred == cached.labels).double().mean(1).tolist()
        agree = (pred == cached.backbone_pred).double().mean(1).tolist()
        counts = torch.zeros(t, num_exits + 1, dtype=torch.long).scatter_add_(1, exit_idx, torch.ones_like(exit_idx))
        for i in range(t):
            fractions = counts[i].double() / n
            points.append({"test_acc": acc[i], "agreement": agree[i], "cost_fraction": float((fractions * costs).sum()),
                           "exit_fractions": fractions.tolist()})
    return points


def pareto_front(points: list[dict]) -> list[dict]:
    """Points not dominated in (lower cost, higher accuracy), sorted by cost."""
    front, best = [], -1.0
    for p in sorted(points, key=lambda p: (p["cost_fraction"], -p["test_acc"])):
        if p["test_acc"] > best:
            front.append(p)
            best = p["test_acc"]
    return front


def validated_front(val_points: list[dict], test_points: list[dict]) -> list[dict]:
    """The trade-off a user can actually get: the settings on the validation curve's Pareto front (chosen without
    test data), at their test values, in order of validation cost. The test curve's own Pareto front
    (:func:`pareto_front`) is the oracle envelope. Both curves hold the same settings in the same order."""
    if not val_points or len(val_points) != len(test_points):
        return pareto_front(test_points)
    on_val = [{**t, "test_acc": v["val_acc"], "cost_fraction": v["cost_fraction"], "_i": i}
              for i, (v, t) in enumerate(zip(val_points, test_points))]
    return [test_points[p["_i"]] for p in pareto_front(on_val)]


def headline(points: list[dict], backbone_acc: float, drops=(1, 2, 5), acc: str = "test_acc") -> dict:
    """For each allowed accuracy drop (in points): the largest cost reduction among operating
    points whose accuracy stays within it, or ``None`` when no point that saves compute qualifies. Selecting on
    the curve it reports, this is the *oracle* (test-selected) headline when given the test curve."""
    out = {}
    for d in drops:
        best = best_within(points, backbone_acc, d, acc)
        out[f"drop_{d}pt"] = None if best is None else {"cost_reduction": 1 - best["cost_fraction"], acc: best[acc],
                                                       "agreement": best["agreement"], "setting": best["setting"]}
    return out


def best_within(points: list[dict], reference_acc: float, drop: float, acc: str,
                conservative_last: bool = False) -> dict | None:
    """The cheapest point that saves compute (cost below the backbone's) whose ``acc`` is within ``drop`` points of
    the reference; ties in cost go to the more accurate, then to the more conservative setting (``points`` run
    from the most conservative setting to the most aggressive, or the other way with ``conservative_last``).
    ``None`` when none qualifies: the never-exit point, which costs the backbone plus its heads, is not a saving."""
    ok = [(i, p) for i, p in enumerate(points)
          if p[acc] >= reference_acc - drop / 100 - 1e-12 and p["cost_fraction"] < 1 - 1e-12]
    if not ok:
        return None
    return min(ok, key=lambda ip: (ip[1]["cost_fraction"], -ip[1][acc], -ip[0] if conservative_last else ip[0]))[1]


def validated_headline(val_points: list[dict], test_points: list[dict], backbone_val_acc: float,
                       drops=(1, 2, 5), backbone_test_acc: float | None = None, conservative_last: bool = False) -> dict:
    """The reported headline: for each allowed drop, the setting is chosen on the validation curve
    (the cheapest whose validation accuracy is within the drop of the backbone's validation
    accuracy; ties to the most conservative) and its numbers are read on the test curve at that same setting,
    with what the choice promised and what it kept: ``test_drop_pt`` (the backbone's test accuracy minus the
    setting's, in points) and ``met_on_test`` (whether that stays within the drop). ``val_points`` and
    ``test_points`` are the curves of one calibrator over the same settings, in the same order."""
    out = {}
    for d in drops:
        chosen = best_within([{**v, "_i": i} for i, v in enumerate(val_points)], backbone_val_acc, d, "val_acc",
                             conservative_last)
        if chosen is None:
            out[f"drop_{d}pt"] = None
            continue
        t = test_points[chosen["_i"]]
        out[f"drop_{d}pt"] = {"setting": t["setting"], "cost_reduction": 1 - t["cost_fraction"],
                              "test_acc": t["test_acc"], "agreement": t["agreement"],
                              "val_acc": chosen["val_acc"], "val_cost_reduction": 1 - chosen["cost_fraction"]}
        if backbone_test_acc is not None:
            drop_pt = 100 * (backbone_test_acc - t["test_acc"])
            out[f"drop_{d}pt"].update(test_drop_pt=drop_pt, met_on_test=bool(drop_pt <= d + 1e-9))
    return out
