"""How each exit behaves, from cached outputs (no forward pass): the numbers early-exit papers compare.

- ``anytime``: every exit on its own (MSDNet's "anytime" setting): accuracy, agreement with the
  backbone, and its cost.
- ``budgeted``: for compute budgets (fractions of the backbone), the global threshold found on
  validation whose validation cost stays within each budget with the best validation accuracy, and
  what it gives on test (MSDNet's "budgeted batch" setting, global threshold); ``budgeted_geometric``:
  the same with per-exit thresholds fitted so that exit shares follow MSDNet's geometric distribution.
- ``cost_table``: the field's table (SDN, MSDNet, ZTW): accuracy at 25/50/75/100 % of the backbone's
  compute, the calibrator's setting chosen on validation within each budget, reported on test.
- ``calibration``: per exit, expected calibration error and reliability bins of the softmax
  confidence (one set of 15 equal-width bins for both), and the AUROC of the exit score for
  predicting a correct answer (failure prediction).
- ``confusion``: per exit confusion matrix (rows: true class, columns: predicted).
Pure functions of ``CachedExits`` (torchmetrics for AUROC and confusion; ECE from our own bins, see
``expected_calibration_error``).
"""
from __future__ import annotations

import torch
from torchmetrics.functional.classification import binary_auroc, multiclass_confusion_matrix

from eexit.evaluation.curves import operating_point, operating_points, simulate
from eexit.exits.cached import CachedExits

BINS = 15   # reliability bins (the usual choice for ECE on CIFAR-scale test sets)
COST_TABLE = (0.25, 0.5, 0.75, 1.0)   # the field's budgets, fractions of the backbone's compute


def anytime(cached: CachedExits, cost_fractions: torch.Tensor) -> list[dict]:
    """One row per exit (the backbone's last): accuracy and agreement of that exit alone, and its cost."""
    pred = cached.logits.argmax(2)
    return [{"exit": e, "cost_fraction": float(cost_fractions[e]),
             "accuracy": float((pred[e] == cached.labels).double().mean()),
             "agreement": float((pred[e] == cached.backbone_pred).double().mean())}
            for e in range(cached.num_exits + 1)]


def threshold_candidates(scores: torch.Tensor, levels: int = 200) -> list[float]:
    """Global thresholds to try: quantiles of the heads' scores, plus 'never exit' (inf)."""
    if scores.numel() == 0:
        return [float("inf")]
    qs = torch.quantile(scores.flatten().double(), torch.linspace(0, 1, levels, dtype=torch.float64))
    return sorted(set(qs.tolist())) + [float("inf")]


def budgeted(val: CachedExits, test: CachedExits, score_kind: str, cost_fractions: torch.Tensor,
             budgets: list[float]) -> list[dict]:
    """Per budget: the global threshold whose validation cost is <= the budget with the highest
    validation accuracy (ties: the cheaper one), and its test operating point; ``None`` fields when
    no threshold meets the budget (it is below the first exit's cost)."""
    val_scores, test_scores = val.scores(score_kind), test.scores(score_kind)
    shape = (val.num_exits, val.num_classes)
    candidates = threshold_candidates(val_scores)
    table = torch.tensor(candidates, dtype=torch.float32).view(-1, 1, 1).expand(-1, *shape)
    tried = list(zip(candidates, operating_points(val, val_scores, table, cost_fractions)))
    return budget_rows(tried, budgets, "threshold",
                       lambda t: point_at(test, test_scores, torch.full(shape, t), cost_fractions))


def cost_table(val_points: list[dict], test_points: list[dict], budgets=COST_TABLE) -> list[dict]:
    """Per budget: among the calibrator's settings (one validation and one test curve over the same
    settings; the validation curve's accuracy under ``test_acc``, as ``curve`` writes it), the most
    accurate on validation whose validation cost is within the budget, and its test point."""
    on_test = {p["setting"]: p for p in test_points}
    return budget_rows([(p["setting"], p) for p in val_points], list(budgets), "setting", on_test.__getitem__)


def point_at(cached: CachedExits, scores: torch.Tensor, thresholds: torch.Tensor, cost_fractions) -> dict:
    """``evaluation.evaluate`` with the split's scores computed once by the caller (many thresholds)."""
    pred, exit_idx = simulate(scores, cached.head_pred, cached.backbone_pred, thresholds)
    return operating_point(pred, exit_idx, cached.labels, cached.backbone_pred, cost_fractions)


def budget_rows(tried: list[tuple], budgets: list[float], knob: str, on_test) -> list[dict]:
    """Per budget, among ``(setting, validation point)`` pairs, the most accurate within the budget
    (ties: the cheaper one) with ``on_test(setting)``'s test point; ``None`` fields when none fits."""
    rows = []
    for b in budgets:
        ok = [(s, p) for s, p in tried if p["cost_fraction"] <= b + 1e-12]
        if not ok:
            rows.append({"budget": b, knob: None, "val_cost_fraction": None, "val_acc": None,
                         "test_acc": None, "test_cost_fraction": None})
            continue
        s, p = max(ok, key=lambda sp: (sp[1]["test_acc"], -sp[1]["cost_fraction"]))   # "test_acc" of val here
        q = on_test(s)
        rows.append({"budget": b, knob: s, "val_cost_fraction": p["cost_fraction"], "val_acc": p["test_acc"],
                     "test_acc": q["test_acc"], "test_cost_fraction": q["cost_fraction"],
                     "over_budget_on_test": bool(q["cost_fraction"] > b + 1e-12),
                     "exit_fractions": q["exit_fractions"]})
    return rows


def cost_table_on_test(test_points: list[dict], budgets=COST_TABLE) -> list[dict]:
    """The ``protocol: ztw`` variant, for comparison with published tables (ZTW, SDN): per budget, the most
    accurate setting whose *test* cost is within it, read on the same test curve. It selects on what it reports,
    so it is optimistic; eexit's own table (``cost_table``) selects on validation."""
    on_test = {p["setting"]: p for p in test_points}
    return [{**row, "protocol": "ztw"} for row in budget_rows([(p["setting"], p) for p in test_points], list(budgets),
                                                              "setting", on_test.__getitem__)]


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> list[dict]:
    """Equal-width confidence bins ``(low, high]`` as in Guo et al. 2017, the first one closed (a
    confidence of exactly 0.0 belongs to it, 1.0 to the last): count, mean confidence and accuracy
    of each non-empty bin."""
    conf, pred = probs.max(1)
    edges = torch.linspace(0, 1, bins + 1)
    which = torch.clamp(torch.bucketize(conf, edges, right=False) - 1, 0, bins - 1)
    rows = []
    for i in range(bins):
        mask = which == i
        if mask.any():
            rows.append({"low": float(edges[i]), "high": float(edges[i + 1]), "count": int(mask.sum()),
                         "confidence": float(conf[mask].double().mean()),
                         "accuracy": float((pred[mask] == labels[mask]).double().mean())})
    return rows


def expected_calibration_error(rows: list[dict]) -> float:
    """ECE by its definition (Guo et al. 2017) over the reliability rows themselves:
    ``Σ_b n_b / N · |accuracy_b − confidence_b|``. Hand-written because torchmetrics'
    ``multiclass_calibration_error`` bins with ``bucketize`` so that a confidence of exactly 1.0
    falls into a 16th bin of its own, which made the reported ECE differ from these rows (the
    constructed case in tests/test_evidence.py: 0.125 against the definition's 0.075)."""
    n = sum(r["count"] for r in rows)
    return sum(r["count"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / n if n else 0.0


def calibration(cached: CachedExits, score_kind: str) -> list[dict]:
    """Per exit: ECE (L1, ``BINS`` bins) of the softmax confidence, its reliability bins, and the AUROC
    of the exit's score (``score_kind``; softmax for the backbone) for telling right answers from wrong
    (``None`` when all of that exit's answers are right, or all wrong)."""
    scores = cached.scores(score_kind)
    out = []
    for e in range(cached.num_exits + 1):
        probs = cached.logits[e].float().softmax(1)
        correct = (probs.argmax(1) == cached.labels)
        s = scores[e] if e < cached.num_exits else probs.max(1).values
        both = 0 < int(correct.sum()) < correct.numel()
        rows = reliability(probs, cached.labels)
        out.append({"exit": e, "ece": expected_calibration_error(rows),
                    "failure_auroc": float(binary_auroc(s.float(), correct.long())) if both else None,
                    "reliability": rows})
    return out


def confusion(cached: CachedExits) -> list[list[list[int]]]:
    """Per exit, the ``[true][predicted]`` count matrix."""
    return [multiclass_confusion_matrix(cached.logits[e].argmax(1), cached.labels, cached.num_classes).tolist()
            for e in range(cached.num_exits + 1)]


def geometric_thresholds(scores: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """Per-exit thresholds (one per exit, every class) under which ``fractions[k]`` of all samples
    leave at exit k, going down the exits as MSDNet's budgeted evaluation does: at exit k the
    survivors with the highest scores leave, as many as the target share of the whole split."""
    num_exits, n = scores.shape
    alive = torch.ones(n, dtype=torch.bool)
    out = torch.full((num_exits,), float("inf"))
    for k in range(num_exits):
        take = min(int(round(float(fractions[k]) * n)), int(alive.sum()))
        if take > 0:
            s = scores[k][alive]
            out[k] = float(torch.topk(s, take).values[-1])
            alive &= ~(scores[k] >= out[k])
    return out


def budgeted_geometric(val: CachedExits, test: CachedExits, score_kind: str, cost_fractions: torch.Tensor,
                       budgets: list[float], ratios: list[float] | None = None) -> list[dict]:
    """MSDNet's budgeted setting: exit shares follow a geometric distribution ``q^k`` over the exits
    (backbone included); for each ratio q the per-exit thresholds are fitted on validation, and per
    budget the most accurate q whose validation cost stays within it is reported with its test point."""
    ratios = ratios or [round(0.1 * 1.15 ** i, 4) for i in range(40)]
    val_scores, test_scores = val.scores(score_kind), test.scores(score_kind)
    e, k = val.num_exits, val.num_classes
    fitted = {}
    for q in ratios:
        share = torch.tensor([q ** j for j in range(e + 1)], dtype=torch.float64)
        fitted[q] = geometric_thresholds(val_scores, share / share.sum()).view(e, 1).expand(e, k).clone()
    table = torch.stack(list(fitted.values())) if fitted else torch.empty(0, e, k)
    tried = list(zip(fitted, operating_points(val, val_scores, table, cost_fractions)))
    return budget_rows(tried, budgets, "ratio", lambda q: point_at(test, test_scores, fitted[q], cost_fractions))
