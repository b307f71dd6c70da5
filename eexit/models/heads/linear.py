"""Global average pool + linear: the common (SDN-style) baseline head."""
from __future__ import annotations

import torch
from torch import nn

from eexit.models.heads.base import HeadOutput


class LinearHead(nn.Module):
    kind = "linear"  # the name reports and sweep summaries use
    learns_confidence = False  # outputs a sigmoid "exit here" score

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        self.input_reduction = (1, 1)   # the global average pool: a feature store may keep the pooled map
        self.fc = nn.Linear(in_shape[0], num_classes)

    def forward(self, x: torch.Tensor) -> HeadOutput:
        return HeadOutput(self.fc(x.mean(dim=(2, 3))), None)
