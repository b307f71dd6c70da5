"""PBEE's patience (Zhou et al., NeurIPS 2020): how many consecutive exits, ending at this one, predict the same
class; a threshold t leaves after t agreeing exits. Its state is ``(previous prediction, streak)``."""
from __future__ import annotations

import torch

from eexit.errors import EExitError
from eexit.exits.scores.base import ExitScore


class Patience(ExitScore):
    """The number of consecutive exits, up to this one, that predict the same class."""

    name = "patience"
    threshold_range = (1.0, None)   # no upper bound
    whole_thresholds = True

    def __call__(self, logits, confidence, state=None):
        if state is None:
            raise EExitError("score 'patience' needs the streak of agreeing exits (advance() before each exit)")
        return state[1].float()

    def advance(self, state, logits):
        pred = logits.argmax(1)
        if state is None:
            return pred, torch.ones_like(pred)
        prev, streak = state
        return pred, torch.where(pred == prev, streak + 1, torch.ones_like(streak))

    def keep(self, state, mask):
        return None if state is None else (state[0][mask], state[1][mask])
