"""Scores read from the exit's class probabilities: the largest one, and one minus the normalised entropy."""
from __future__ import annotations

import math

import torch

from eexit.exits.scores.base import ExitScore


class MaxSoftmax(ExitScore):
    """The largest class probability (SDN, BTS-EE, earlyon's default)."""

    name = "max_softmax"

    def __call__(self, logits, confidence, state=None):
        # float32 logits are used as they are (.float() would cost a dispatch per exit at batch 1)
        return (logits if logits.dtype == torch.float32 else logits.float()).softmax(1).amax(1)


class Entropy(ExitScore):
    """``1 - H(p) / log K``: 1 for a one-hot answer, 0 for a uniform one (BranchyNet's criterion, as a confidence)."""

    name = "entropy"

    def __call__(self, logits, confidence, state=None):
        logp = logits.float().log_softmax(1)
        return 1 - -(logp.exp() * logp).sum(1) / math.log(logits.shape[1])
