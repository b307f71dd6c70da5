"""Evaluate one trained set of heads from its cached outputs: calibrate on validation, measure on test.

Cost per exit, the trade-off curve over the calibrator's knob, Pareto front, headline, the configured operating
point and the exits' analysis: a function of the trained regime and typed settings, with no side effect
(``settle.py`` checks the deployed path and writes the checkpoint; ``regimes.py`` builds the record once).
"""
from __future__ import annotations

from typing import Callable

import torch

from eexit.evaluation import curve, evaluate, headline, pareto_front, simulate, validated_headline
from eexit.evaluation.analysis import (anytime, budgeted, budgeted_geometric, calibration, confusion, cost_table,
                                      cost_table_on_test)
from eexit.exits import CachedExits, ExitPolicy
from eexit.methods import Trained
from eexit.reporting.samples import encode_exits
from eexit.reporting.stats import two_level_interval


def evaluate_regime(name: str, trained: Trained, calib, head_kind: str, backbone_val_acc: float,
                    backbone_test_acc: float, budgets: tuple[float, ...], phase) -> tuple[dict, ExitPolicy, Callable]:
    """The evaluated fields of the regime's record, its exit policy and the calibrator's thresholds of a setting
    (``thresholds_for``: what deploys at a headline's or budget row's setting). The configured operating point uses
    the thresholds the fit calibrated itself when it did (``trained.thresholds``: BTS-EE's boosted stages), else the
    calibrator's on validation."""
    net, costs, val, test = trained.net, trained.costs, trained.val, trained.test
    fractions = costs.fractions
    with phase(f"{name}/calibrate+curve"):
        thresholds_for, settings = calib.thresholds_fn(val), calib.settings(val)
        points = curve(test, calib.score, settings, thresholds_for, fractions)
        val_raw = curve(val, calib.score, settings, thresholds_for, fractions)   # what every choice is made on
        val_points = [{("val_acc" if k == "test_acc" else k): v for k, v in p.items()} for p in val_raw]
        thresholds = thresholds_for(calib.setting) if trained.thresholds is None else trained.thresholds
        point = {"setting": calib.setting, **evaluate(test, calib.score, thresholds, fractions)}
    policy = ExitPolicy(calib.score, thresholds)
    with phase(f"{name}/analysis"):
        analysis = {"anytime": anytime(test, fractions),
                    "cost_table": cost_table(val_raw, points), "cost_table_ztw": cost_table_on_test(points),
                    "budgeted": budgeted(val, test, calib.score, fractions, list(budgets)),
                    "budgeted_geometric": budgeted_geometric(val, test, calib.score, fractions, list(budgets)),
                    "calibration": calibration(test, calib.score), "confusion": confusion(test)}
    fields = {"head": head_kind, "exits": costs.to_rows(net.backbone.block_names), "attach": list(net.attach),
              "exit_val_acc": exit_accuracy(val), "exit_test_acc": exit_accuracy(test),
              "head_macs_fraction": sum(costs.head_macs) / costs.backbone_macs,
              "curve": points, "pareto_front": pareto_front(points),
              "headline": validated_headline(val_points, points, backbone_val_acc, backbone_test_acc=backbone_test_acc,
                                             conservative_last=calib.higher_is_conservative),
              "oracle": headline(points, backbone_test_acc), "val_curve": val_points,
              "test_samples": int(test.labels.numel()), "val_samples": int(val.labels.numel()),
              "chance_acc": float(torch.bincount(test.labels).max()) / max(1, test.labels.numel()),
              "operating_point": point, "policy": policy.to_dict(), **analysis}
    for chosen in (p for p in fields["headline"].values() if p is not None):
        with_samples(chosen, test, calib.score, thresholds_for(chosen["setting"]), fractions, val)
    return fields, policy, thresholds_for


def with_samples(point: dict, test: CachedExits, score: str, thresholds: torch.Tensor, fractions: torch.Tensor,
                 val: CachedExits | None = None) -> None:
    """A headline's test samples, kept so that intervals can resample them (``sample_exits``: the exit each test
    image leaves at, one character each; ``exit_costs``: each exit's cost fraction), and the interval of its saving
    over this run's test set (``cost_reduction_low``/``_high``: a bootstrap of the test images). With ``val``, the
    validation images' exits too (``val_sample_exits``): what a decision that must not read test resamples."""
    _, exit_idx = simulate(test.scores(score), test.head_pred, test.backbone_pred, thresholds)
    saving = (1 - fractions.double()[exit_idx]).numpy()
    point["sample_exits"] = encode_exits(exit_idx.tolist())
    if val is not None:
        point["val_sample_exits"] = encode_exits(simulate(val.scores(score), val.head_pred, val.backbone_pred,
                                                          thresholds)[1].tolist())
    point["exit_costs"] = fractions.double().tolist()
    point["cost_reduction_low"], point["cost_reduction_high"] = two_level_interval([saving])


def exit_accuracy(cached: CachedExits) -> list[float]:
    """Each exit's accuracy on every sample of the split (the heads', then the backbone's)."""
    return (cached.logits.argmax(2) == cached.labels).double().mean(1).tolist()
