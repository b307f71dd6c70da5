"""From a ``policy`` config and cached validation outputs to thresholds ``[E, K]``.

Every policy has one scalar knob (a global threshold T, or the CPM margin m):
``thresholds_fn(setting)`` calibrates for one value, ``settings`` lists the values the
trade-off curve sweeps, ``configured`` is the value the config asks for.
"""
from __future__ import annotations

from typing import Callable

import torch

from eexit.evaluation import GLOBAL_SETTINGS, CachedExits
from eexit.exits.cpm import calibrate_cpm, class_precision


def configured(pcfg) -> float:
    return float(pcfg.margin if pcfg.name == "cpm" else pcfg.threshold)


def settings(pcfg, val: CachedExits | None = None) -> list[float]:
    """The knob values the curve sweeps. For a global threshold, the fixed grid plus the
    5 %..95 % quantiles of the validation scores, so the curve is dense where scores lie."""
    if pcfg.name == "cpm":
        return sorted(set(pcfg.margins) | {configured(pcfg)})
    values = set(pcfg.get("sweep") or GLOBAL_SETTINGS) | {configured(pcfg)}
    if val is not None and val.num_exits:
        q = torch.linspace(0.05, 0.95, 19)
        values |= {round(float(v), 6) for v in val.scores(pcfg.score).flatten().float().quantile(q)}
    return sorted(values)


def thresholds_fn(pcfg, val: CachedExits, fixed: torch.Tensor | None = None) -> Callable[[float], torch.Tensor]:
    """Calibrator on validation outputs ``val``; ``fixed`` rows (not NaN) are kept (frozen heads)."""
    e, k = val.num_exits, val.num_classes
    if pcfg.name == "global":
        return lambda t: torch.full((e, k), float(t))
    if pcfg.name != "cpm":
        raise ValueError(f"unknown policy '{pcfg.name}'; choose global or cpm")
    scores = val.scores(pcfg.score)
    reference = val.labels if pcfg.precision_reference == "labels" else val.backbone_pred
    prec = class_precision(val.backbone_pred, val.labels, k)
    return lambda m: calibrate_cpm(scores, val.head_pred, reference, prec, float(m), pcfg.margin_form,
                                   pcfg.calibrate_on == "survivors", int(pcfg.min_support), fixed)
