"""The exit rule, in one place: a sample leaves a head when its score reaches the
threshold of the class that head predicts.

Thresholds are shaped ``[..., num_classes]`` and predictions ``[..., N]`` with matching
leading dimensions: one head (``[K]`` and ``[N]``) or every head at once (``[E, K]`` and
``[E, N]``). ``inf`` means "this class never exits here". Every caller (deployed
inference, simulation from cached outputs, calibration, boosted training) uses this
function, so they cannot disagree.
"""
from __future__ import annotations

import torch


def passes(scores: torch.Tensor, pred: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Boolean mask: ``scores >= thresholds[..., pred]``."""
    return scores >= thresholds.to(scores.device).gather(-1, pred)
