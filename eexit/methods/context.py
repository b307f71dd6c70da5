"""``FitContext``: what a recipe's ``fit`` may use, set up by the pipeline before the method's own work.

A recipe never reads the run's whole config: it gets its own arguments from ``method`` and this
context for everything the run already built (data, trained backbone, head factory, calibrator,
where heads attach) and the services it shares with other recipes (a Trainer for one fit, a fresh
backbone, the timing of phases).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import lightning as L
import torch
from torch import nn

from eexit.costs.exits import ExitCosts
from eexit.exits import CachedExits
from eexit.models.early_exit import EarlyExitNet


@dataclass(frozen=True)
class FitContext:
    """Args:
        dm: the image DataModule, set up.
        backbone: the trained backbone (eval mode, on ``device``); its cached weights are shared, so a
            recipe that trains it trains a copy.
        fresh_backbone: a new, untrained backbone of the same config (joint training from scratch).
        attach: the blocks heads attach after (the ``placement`` group, resolved on this backbone).
        head: the head factory, ``head(in_shape, num_classes)`` (the ``head`` group).
        calibrator: the ``calibrator`` group's calibrator.
        trainer: ``trainer(max_epochs, callbacks, **overrides)``: a Lightning Trainer for one fit, with
            the run's loggers, callbacks and precision.
        phases: ``phases(name)`` times a part of the run into ``results.json``'s ``phase_seconds``.
        plan: the run's plan (``eexit.pipeline.plan.Plan``): sizes and rates measured before any work.
    """

    dm: object
    backbone: nn.Module
    fresh_backbone: Callable[[], nn.Module]
    attach: list[int]
    head: Callable
    calibrator: object
    seed: int
    device: torch.device
    run_dir: Path
    cache_dir: str | Path | None
    trainer: Callable[..., L.Trainer]
    phases: Callable
    plan: object = None


@dataclass(frozen=True)
class Trained:
    """One trained regime: what evaluation, the checkpoint and the report read.

    ``whole_network``: the backbone was trained too, so the checkpoint stores it (a frozen one is referenced by its
    weights file). ``thresholds``: ``[exits, classes]`` exit thresholds the fit calibrated itself (BTS-EE's boosted
    stages), used as they are for the configured operating point; ``None``: the run's calibrator sets them on
    validation. What the method wants the record to say: ``untrained_heads``, ``summary`` lines printed under the
    headline, ``notes``, and ``method``, its own facts (boosted stages, the cost-aware loss)."""

    net: EarlyExitNet
    costs: ExitCosts
    val: CachedExits
    test: CachedExits
    train_seconds: float | None = None
    whole_network: bool = False
    thresholds: torch.Tensor | None = None
    final_exit_test_acc: float | None = None
    untrained_heads: tuple = ()
    summary: tuple = ()
    notes: tuple = ()
    method: dict = field(default_factory=dict)
