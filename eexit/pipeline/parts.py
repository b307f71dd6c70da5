"""The parts a run is made of, each built once by the composition root (``compose.py``) from the config and handed to the
stages below as typed values: nothing under the root reads the config.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import lightning as L
import torch
from lightning.pytorch.callbacks import ProgressBar

from eexit.errors import EExitError


@dataclass(frozen=True)
class Settings:
    """What the run itself is asked, beyond its parts."""

    seed: int
    cache_dir: Path
    device: torch.device
    budgets: tuple[float, ...] = (0.25, 0.5, 0.75)
    real_skip_samples: int | None = 64
    time_samples: int | None = 16   # test images each operating point's time saving is measured on (None: not)
    plot: bool = True
    plan_only: bool = False
    certify: tuple | None = None   # selection=risk: (risk, delta in points, alpha, unlabelled folder or None)


@dataclass(frozen=True)
class Placement:
    """Where heads attach: explicit ``blocks``, or ``num_exits`` placed by a cost-fraction ``rule``."""

    blocks: list[int] | None = None
    num_exits: int | None = 3
    rule: str = "linear"


@dataclass(frozen=True)
class Trainers:
    """A Lightning Trainer for one fit: ``trainers(max_epochs, callbacks, **overrides)``, from the ``trainer`` and
    ``callbacks`` groups, with the run's loggers and its resolved precision."""

    make: Callable[..., L.Trainer]                   # the ``trainer`` group, instantiated with keyword overrides
    callbacks: Callable[[], list] = list             # the ``callbacks`` group, built afresh for each fit
    progress_bar: bool = False
    loggers: tuple = ()

    def with_loggers(self, loggers) -> "Trainers":
        return replace(self, loggers=tuple(loggers))

    def __call__(self, max_epochs: int, callbacks: list | None = None, **overrides) -> L.Trainer:
        every = self.callbacks() + list(callbacks or [])
        if not self.progress_bar:   # Lightning refuses a progress-bar callback then
            every = [c for c in every if not isinstance(c, ProgressBar)]
        return self.make(max_epochs=max_epochs, logger=list(self.loggers) or False, callbacks=every,
                         enable_progress_bar=self.progress_bar, **overrides)

    def check(self) -> None:
        """Lightning's own checks of the settings before any work: a Trainer is built once and dropped (about 20 ms),
        so what it refuses answers in one line instead of at the first fit."""
        from hydra.errors import InstantiationException
        from lightning.fabric.utilities.exceptions import MisconfigurationException
        try:
            self(1)
        except (InstantiationException, MisconfigurationException, ValueError, TypeError) as exc:
            cause = exc.__cause__ if isinstance(exc, InstantiationException) and exc.__cause__ else exc
            raise EExitError(f"trainer: Lightning refuses these settings: {str(cause).splitlines()[0]}") from None


def progress_bar(setting) -> bool:
    """``auto``: bars on a terminal only; a log file gets one line per training stage instead."""
    return sys.stdout.isatty() if setting == "auto" else bool(setting)


@dataclass(frozen=True)
class BackboneSource:
    """How the run gets its backbone: ``build(num_classes, weights=...)`` from its config; then the user's
    ``weights`` file, the cache (``cache``, under ``cache_dir``, keyed by ``config``, the data, the seed, the
    ``pretraining`` recipe's settings, the ``precision`` and the ``trainer_key`` settings), or training."""

    build: Callable[..., torch.nn.Module]
    config: dict
    pretraining: object
    cache_dir: Path
    seed: int
    precision: str
    trainer_key: dict = field(default_factory=dict)
    weights: str | None = None
    cache: bool = True
    data_normalized: bool = False   # the data config sets its own mean/std (a pretrained model's are not adopted)

    def blank(self, num_classes: int) -> torch.nn.Module:
        """An untrained copy (no weights file, no pretrained weights): shapes, MACs and rates for the plan."""
        return self.build(num_classes=num_classes, weights=None,
                          **({"pretrained": False} if "pretrained" in self.config else {}))

    def fresh(self, num_classes: int) -> torch.nn.Module:
        """A new backbone as configured but without the user's weights file (joint training from scratch)."""
        return self.build(num_classes=num_classes, weights=None)
