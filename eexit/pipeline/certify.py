"""``selection=risk``: a regime's deployed setting certified on the calibration split (eexit.evaluation.risk).

The fixed sequence runs over the calibrator's settings, the thresholds each gives calibrated on validation as for
every curve; the calibration split (held out of validation before anything trained) is read only here. The chosen
setting replaces the configured one as the regime's operating point and policy, so the real-skip check, the
checkpoint and an export all carry it, with its certificate. When no setting is certified the most conservative
one (nobody exits) is kept: the backbone alone; ``exits`` says whether the certified setting lets any image leave
early (certifying only "nobody exits" certifies nothing useful).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from eexit.evaluation import evaluate
from eexit.evaluation.risk import certify, conservative_first
from eexit.exits import CachedExits, ExitPolicy
from eexit.methods import Trained


@dataclass(frozen=True)
class Certification:
    """The user's promise (``risk``, ``delta_pt`` in points, ``alpha``) and how to read a trained network's exit
    outputs on the calibration split."""

    risk: str
    delta_pt: float
    alpha: float
    outputs: Callable[[object], CachedExits]


def certified(trained: Trained, calib, certification: Certification, backbone_test_acc: float) -> tuple[dict, dict,
                                                                                                          ExitPolicy]:
    """``(record of the certificate, its test operating point, the policy to deploy)``."""
    thresholds_for = calib.thresholds_fn(trained.val)
    order = conservative_first(calib.settings(trained.val), calib.higher_is_conservative)
    cert = certify(certification.outputs(trained.net), calib.score, order, thresholds_for, certification.risk,
                   certification.delta_pt / 100, certification.alpha)
    setting = order[0] if cert.setting is None else cert.setting   # nobody exits: the backbone alone
    thresholds = thresholds_for(setting)
    point = {"setting": setting, **evaluate(trained.test, calib.score, thresholds, trained.costs.fractions)}
    gap = 100 * (backbone_test_acc - point["test_acc"]) if certification.risk == "accuracy_gap" else \
        100 * (1 - point["agreement"])
    record = {**cert.to_dict(), "exits": cert.setting is not None and setting != order[0],
              "delta_pt": certification.delta_pt, "bound_pt": None if cert.bound is None else 100 * cert.bound,
              "test_gap_pt": gap, "held_on_test": bool(gap <= certification.delta_pt + 1e-9),
              "test_cost_reduction": 1 - point["cost_fraction"], "test_acc": point["test_acc"]}
    promise = {k: record[k] for k in ("risk", "delta_pt", "alpha", "n", "bound_pt", "setting", "p_value_method")}
    return record, point, ExitPolicy(calib.score, thresholds, certificate=promise)
