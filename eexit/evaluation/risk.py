"""Certified exits: the most aggressive setting whose risk is at most δ with probability 1 − α on new data.

Learn then Test (Angelopoulos et al., arXiv 2110.01052) with fixed-sequence testing, as Jazbec, Timans et al.
adapt it to early exits (arXiv 2405.20915). The calibrator's settings are tested in a fixed order, from the most
conservative (nobody exits: no risk) to the most aggressive; each is tested against "its risk exceeds δ" with a
valid finite-sample p-value on a calibration split nothing else trained on or selected with, and the sequence
stops at the first setting not rejected. Every setting before it is certified; the last of them is chosen. Family-
wise error: the chance that any certified setting has risk above δ is at most α, because the tests run in a fixed
order and each is level α (no multiplicity correction is needed for a fixed sequence).

Risks, per calibration image, as 0/1 losses:
- ``prediction_gap``: the early-exit answer differs from the backbone's final answer (needs no labels);
- ``accuracy_gap``: the backbone is right and the early-exit answer is wrong. Its mean bounds the accuracy gap
  (backbone accuracy − early-exit accuracy) from above, since the gap also subtracts the images an exit gets right
  where the backbone does not.
For 0/1 losses the exact binomial tail is a valid p-value (``P(Binomial(n, δ) ≤ observed count)``) and is never
looser than Hoeffding–Bentkus, which bounds the same tail for losses in [0, 1] with a factor e; so it is used here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch
from scipy import stats

from eexit.evaluation.curves import simulate
from eexit.exits.cached import CachedExits

RISKS = ("prediction_gap", "accuracy_gap")


def losses(cached: CachedExits, score: str, thresholds: torch.Tensor, risk: str) -> torch.Tensor:
    """The 0/1 loss of every image of ``cached`` when exiting with ``thresholds``."""
    pred, _ = simulate(cached.scores(score), cached.head_pred, cached.backbone_pred, thresholds)
    if risk == "prediction_gap":
        return (pred != cached.backbone_pred).double()
    return ((cached.backbone_pred == cached.labels) & (pred != cached.labels)).double()


def p_value(count: int, n: int, delta: float) -> float:
    """``P(Binomial(n, δ) ≤ count)``: small when ``count`` errors out of ``n`` would be unlikely at risk δ."""
    return float(stats.binom.cdf(count, n, delta))


def upper_bound(count: int, n: int, alpha: float) -> float:
    """The one-sided ``1 − α`` Clopper–Pearson upper confidence bound of a rate seen ``count`` times in ``n``."""
    return 1.0 if count >= n else float(stats.beta.ppf(1 - alpha, count + 1, n - count))


@dataclass
class Certificate:
    """What a certified selection promises: ``setting`` (``None``: no exit is certified, the backbone is kept),
    its risk on the ``n`` calibration images, the ``bound`` (``1 − α`` upper bound of that risk) and how many
    settings the fixed sequence certified."""

    risk: str
    delta: float
    alpha: float
    n: int
    setting: float | None
    calibration_risk: float | None
    bound: float | None
    certified: int
    tested: int
    p_value_method: str = "exact binomial tail (0/1 losses)"

    def to_dict(self) -> dict:
        return asdict(self)


def fixed_sequence(counts: Sequence[int], n: int, delta: float, alpha: float) -> int:
    """How many settings, in the order of ``counts`` (each one's loss count on ``n`` images), the fixed sequence
    certifies: it stops at the first whose p-value exceeds ``alpha``."""
    certified = 0
    for count in counts:
        if n == 0 or p_value(int(count), n, delta) > alpha:
            break
        certified += 1
    return certified


def certify(cached: CachedExits, score: str, settings: Sequence[float], thresholds_for: Callable[[float], torch.Tensor],
            risk: str, delta: float, alpha: float) -> Certificate:
    """Fixed-sequence testing over ``settings`` (ordered from the most conservative to the most aggressive) on the
    calibration outputs ``cached``; ``delta`` and the risk are fractions (0.01 = one point)."""
    n = int(cached.labels.numel())
    counts = [int(losses(cached, score, thresholds_for(s), risk).sum()) for s in settings]
    certified = fixed_sequence(counts, n, delta, alpha)
    chosen = certified - 1 if certified else None
    return Certificate(risk=risk, delta=float(delta), alpha=float(alpha), n=n,
                       setting=None if chosen is None else float(settings[chosen]),
                       calibration_risk=None if chosen is None else counts[chosen] / n,
                       bound=None if chosen is None else upper_bound(counts[chosen], n, alpha), certified=certified,
                       tested=min(len(settings), certified + 1))


def conservative_first(settings: Sequence[float], higher_is_conservative: bool) -> list[float]:
    """The calibrator's settings in the order the fixed sequence tests them."""
    return sorted(settings, reverse=higher_is_conservative)
