"""The probability margin: the top class's probability minus the runner-up's.

A sample whose two likeliest classes are close is ambiguous even when the top probability is high (0.49 against
0.48 of a 3-way split, 0.51 against 0.47): the margin separates those from a clear winner, where max-softmax alone
does not. It is the "score margin" Park et al. use to decide when a small network's answer is final ("Big/little
deep neural network for ultra low power inference", CODES+ISSS 2015), and the margin-based uncertainty of active
learning (Scheffer et al., 2001). In [0, 1]: 0 for a tie, 1 for a one-hot answer.
"""
from __future__ import annotations

import torch

from eexit.exits.scores.base import ExitScore


class ProbabilityMargin(ExitScore):
    """The top class's probability minus the second's (0: a tie between them, 1: a one-hot answer)."""

    name = "prob_margin"

    def __call__(self, logits, confidence, state=None):
        top2 = (logits if logits.dtype == torch.float32 else logits.float()).softmax(1).topk(2, dim=1).values
        return top2[:, 0] - top2[:, 1]
