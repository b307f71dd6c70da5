"""What every exit head returns: class logits and, for kinds that learn one, a confidence."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import nn


class HeadOutput(NamedTuple):
    logits: torch.Tensor                 # [B, K]
    confidence: Optional[torch.Tensor]   # [B] in [0, 1], or None for heads without one


class ConfidenceHead(nn.Module):
    """Linear classifier plus a separate linear + sigmoid "exit here" score (EENets/PTEENet)."""

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        self.classifier = nn.Linear(features, num_classes)
        self.confidence = nn.Linear(features, 1)

    def forward(self, z: torch.Tensor) -> HeadOutput:
        return HeadOutput(self.classifier(z), torch.sigmoid(self.confidence(z)).squeeze(1))
