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


def settings(pcfg) -> list[float]:
    values = list(pcfg.margins) if pcfg.name == "cpm" else list(pcfg.get("sweep") or GLOBAL_SETTINGS)
    return sorted(set(values) | {configured(pcfg)})


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
