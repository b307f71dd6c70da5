"""Whether certified exits keep their promise: random calibration/test re-splits of a run's stored exit outputs.

Every setting's per-image loss, correctness and saving are computed once over the pooled images; a re-split is
then only index arithmetic, so hundreds of re-splits cost seconds. The thresholds are the run's own (calibrated on
its validation split, which no re-split touches); each re-split certifies on one half and measures on the other.
Beside it, the validation-selected headline at the same δ (one setting, chosen on validation) is measured on the
same halves: how often each breaks δ, and how much compute the guarantee gives up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from eexit.evaluation.curves import curve, simulate, validated_headline
from eexit.evaluation.risk import conservative_first, fixed_sequence, losses
from eexit.exits import CachedExits


@dataclass
class Table:
    """Per setting (rows, the fixed sequence's order) and image (columns): 0/1 loss, correct, compute saved."""

    settings: list[float]
    loss: np.ndarray
    correct: np.ndarray
    saving: np.ndarray
    backbone_correct: np.ndarray


def table(cached: CachedExits, calib, val: CachedExits, fractions: torch.Tensor, risk: str) -> Table:
    thresholds_for = calib.thresholds_fn(val)
    order = conservative_first(calib.settings(val), calib.higher_is_conservative)
    loss, correct, saving = [], [], []
    for s in order:
        t = thresholds_for(s)
        pred, exit_idx = simulate(cached.scores(calib.score), cached.head_pred, cached.backbone_pred, t)
        loss.append(losses(cached, calib.score, t, risk).numpy())
        correct.append((pred == cached.labels).numpy())
        saving.append((1 - fractions.double()[exit_idx]).numpy())
    return Table(order, np.array(loss), np.array(correct, dtype=float), np.array(saving),
                 (cached.backbone_pred == cached.labels).numpy().astype(float))


def validated_setting(calib, val: CachedExits, fractions: torch.Tensor, delta_pt: float) -> float | None:
    """Today's headline at ``delta_pt``: the setting chosen on validation (``None``: none qualifies)."""
    settings = calib.settings(val)
    points = curve(val, calib.score, settings, calib.thresholds_fn(val), fractions)
    val_points = [{**p, "val_acc": p["test_acc"]} for p in points]
    acc = float((val.backbone_pred == val.labels).double().mean())
    chosen = validated_headline(val_points, points, acc, drops=(delta_pt,),
                                conservative_last=calib.higher_is_conservative)[f"drop_{delta_pt}pt"]
    return None if chosen is None else chosen["setting"]


def resplits(tab: Table, validated: float | None, delta_pt: float, alpha: float, draws: int, seed: int = 0,
             calibrate: Table | None = None) -> dict:
    """``draws`` random halves: certify on one (or on a random half of ``calibrate``'s images, for a shift) and
    measure the accuracy gap and saving on the other; the same for the ``validated`` setting."""
    rng = np.random.default_rng(seed)
    n = tab.loss.shape[1]
    v = tab.settings.index(validated) if validated is not None else 0
    certified_broke, validated_broke, certified_saving, validated_saving, exits = 0, 0, [], [], 0
    for _ in range(draws):
        perm = rng.permutation(n)
        cal, test = perm[: n // 2], perm[n // 2:]
        source = calibrate if calibrate is not None else tab
        if calibrate is not None:
            cal, test = rng.permutation(source.loss.shape[1])[: source.loss.shape[1] // 2], np.arange(n)
        k = fixed_sequence(source.loss[:, cal].sum(1).astype(int).tolist(), len(cal), delta_pt / 100, alpha)
        chosen = max(k - 1, 0)   # nothing certified: the most conservative setting (nobody exits)
        exits += k > 1
        base = tab.backbone_correct[test].mean()
        certified_broke += 100 * (base - tab.correct[chosen, test].mean()) > delta_pt + 1e-9
        validated_broke += 100 * (base - tab.correct[v, test].mean()) > delta_pt + 1e-9
        certified_saving.append(tab.saving[chosen, test].mean() if k > 1 else 0.0)   # none: the backbone alone
        validated_saving.append(tab.saving[v, test].mean())
    return {"delta_pt": delta_pt, "alpha": alpha, "draws": draws,
            "certified_violations": certified_broke / draws, "certified_interval": binomial_interval(certified_broke,
                                                                                                    draws),
            "validated_violations": validated_broke / draws, "validated_interval": binomial_interval(validated_broke,
                                                                                                    draws),
            "certified_saving": float(np.mean(certified_saving)), "validated_saving": float(np.mean(validated_saving)),
            "certified_exits_share": exits / draws}


def binomial_interval(k: int, n: int) -> list[float]:
    """Clopper–Pearson 95 % interval of a frequency ``k / n``."""
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return [float(ci.low), float(ci.high)]
