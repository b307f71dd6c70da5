"""The head's own learned confidence (PTEENet's and EENets' confidence branch, a sigmoid in [0, 1])."""
from __future__ import annotations

from eexit.errors import EExitError
from eexit.exits.scores.base import ExitScore


class LearnedConfidence(ExitScore):
    """The exit's learned confidence (a sigmoid output of its confidence branch)."""

    name = "confidence"
    needs_confidence = True

    def __call__(self, logits, confidence, state=None):
        if confidence is None:
            raise EExitError("score 'confidence' needs heads that learn one (ConvXHead, EENetHead)")
        return confidence.float()
