"""Calibrators: from cached validation outputs to a threshold table ``[E, K]``.

Every calibrator has one scalar knob (a global threshold T, or the CPM margin m):
``setting`` is the value the config asks for, ``settings(val)`` the values the
trade-off curve sweeps, and ``thresholds_fn(val, fixed)`` calibrates for any value.
The sweep always spans the whole range: from "no sample exits" (the backbone's own
accuracy, at the cost of the backbone plus every head) to "every sample leaves at the
first exit that will take it", so a headline exists wherever any setting reaches it.
Rows of ``fixed`` that are not NaN are kept as they are (heads BTS-EE has frozen).
A new calibrator is a class with these members plus a yaml in ``eexit/conf/calibrator/``.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from eexit.config.arguments import check_arguments
from eexit.config.scores import threshold_problem
from eexit.errors import BadArgument
from eexit.exits.cached import CachedExits
from eexit.exits.cpm import calibrate_cpm, class_precision
from eexit.exits.policy import ExitPolicy
from eexit.exits.scores import score_named

GLOBAL_SETTINGS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95, 0.96,
                   0.97, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0)


class Calibrator:
    score: str
    setting: float
    per_class = False   # True: thresholds differ by predicted class (BTS-EE's rate_matched survivors match per class)
    higher_is_conservative = True   # a higher setting lets fewer samples exit (a threshold); CPM's margin: the reverse

    def settings(self, val: CachedExits | None = None) -> list[float]:
        raise NotImplementedError

    def thresholds_fn(self, val: CachedExits, fixed: torch.Tensor | None = None) -> Callable[[float], torch.Tensor]:
        raise NotImplementedError

    def thresholds(self, val: CachedExits, setting: float | None = None,
                   fixed: torch.Tensor | None = None) -> torch.Tensor:
        return self.thresholds_fn(val, fixed)(self.setting if setting is None else setting)

    def policy(self, val: CachedExits, setting: float | None = None) -> ExitPolicy:
        return ExitPolicy(self.score, self.thresholds(val, setting))


def _check_score(score: str) -> str:
    return score_named(score).name


class GlobalThreshold(Calibrator):
    """One threshold T for every head and class (PTEENet, EENets, the max-softmax baseline).

    The curve sweeps ``sweep`` (default: a fixed grid) plus the 5 %..95 % quantiles of the
    validation scores, so it is dense where the scores lie."""

    def __init__(self, score: str = "max_softmax", threshold: float = 0.9, sweep: Sequence[float] | None = None):
        check_arguments(type(self), score=score, threshold=threshold, sweep=None if sweep is None else list(sweep))
        self.score, self.setting = _check_score(score), float(threshold)
        if not score_named(score).allows(self.setting):   # a count for patience, a number in [0, 1] for the others
            raise BadArgument(type(self).__name__, "threshold", threshold, threshold_problem(score, threshold) or "")
        self.sweep = tuple(sweep) if sweep is not None else GLOBAL_SETTINGS

    def settings(self, val=None):
        values = set(self.sweep) | {self.setting, 0.0, math.inf}   # 0: everyone at the first exit; inf: nobody
        if val is not None and val.num_exits:
            q = torch.linspace(0.05, 0.95, 19)
            values |= {round(float(v), 6) for v in val.scores(self.score).flatten().float().quantile(q)}
        return sorted(values)

    def thresholds_fn(self, val, fixed=None):
        e, k = val.num_exits, val.num_classes

        def fn(t: float) -> torch.Tensor:
            out = torch.full((e, k), float(t))
            if fixed is not None:
                keep = ~torch.isnan(fixed).any(1)
                out[keep] = fixed[keep].float()
            return out
        return fn


class ClassPrecisionMargin(Calibrator):
    """BTS-EE's Class Precision Margin (``eexit/exits/cpm.py``); the knob is the margin m.

    Args:
        margin: m in the target ``Pr_c - m`` (additive) or ``(1 - m) Pr_c`` (multiplicative).
        margin_form: ``additive`` | ``multiplicative``.
        precision_reference: ``labels`` (ground truth) | ``backbone`` (agreement with it).
        calibrate_on: ``survivors`` (samples earlier heads keep) | ``all``.
        min_support: smallest accepted set that can define a threshold.
        margins: the values the curve sweeps (the configured margin is always added).
    """

    per_class = True
    higher_is_conservative = False   # a larger margin lowers the precision each exit must keep: more exit

    def __init__(self, score: str = "max_softmax", margin: float = 0.02, margin_form: str = "additive",
                 precision_reference: str = "labels", calibrate_on: str = "survivors", min_support: int = 5,
                 margins: Sequence[float] = (0.0, 0.01, 0.02, 0.05, 0.1)):
        check_arguments(type(self), score=score, margin=margin, margins=list(margins), margin_form=margin_form,
                        precision_reference=precision_reference, calibrate_on=calibrate_on, min_support=min_support)
        self.score, self.setting = _check_score(score), float(margin)
        self.margin_form, self.precision_reference = margin_form, precision_reference
        self.calibrate_on, self.min_support, self.margins = calibrate_on, int(min_support), tuple(margins)

    def settings(self, val=None):
        return sorted(set(self.margins) | {self.setting, -math.inf, math.inf})   # -inf: nobody exits

    def thresholds_fn(self, val, fixed=None):
        scores = val.scores(self.score)
        reference = val.labels if self.precision_reference == "labels" else val.backbone_pred
        prec = class_precision(val.backbone_pred, val.labels, val.num_classes)
        done: dict[float, torch.Tensor] = {}   # a regime's val curve, test curve and operating point share margins

        def fn(m: float) -> torch.Tensor:
            if float(m) not in done:
                done[float(m)] = calibrate_cpm(scores, val.head_pred, reference, prec, float(m), self.margin_form,
                                               self.calibrate_on == "survivors", self.min_support, fixed)
            return done[float(m)].clone()
        return fn
