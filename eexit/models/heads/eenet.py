"""EENets' exit block: ``plain`` (flatten), ``pool`` (global pool) or ``bnpool`` (BN, then pool),
followed by a classifier and a sigmoid confidence.

``plain`` sizes its linear layers from the actual feature map (the original code
sized it from the input image, which only fits full-resolution maps; docs/methods.md, `eenets`).
"""
from __future__ import annotations

import torch
from torch import nn

from eexit.config.arguments import check_arguments
from eexit.models.heads.base import ConfidenceHead, HeadOutput


class EENetHead(nn.Module):
    kind = "eenet"  # the name reports and sweep summaries use
    learns_confidence = True  # outputs a sigmoid "exit here" score

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, block: str = "pool"):
        super().__init__()
        check_arguments(type(self), block=block)
        c, h, w = in_shape
        if block == "plain":
            self.body, features = nn.Flatten(), c * h * w
        elif block == "pool":
            self.body, features = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), c
        else:   # bnpool
            self.body, features = nn.Sequential(nn.BatchNorm2d(c), nn.AdaptiveAvgPool2d(1), nn.Flatten()), c
        self.out = ConfidenceHead(features, num_classes)

    def forward(self, x: torch.Tensor) -> HeadOutput:
        return self.out(self.body(x))
