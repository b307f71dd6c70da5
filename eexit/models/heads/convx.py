"""PTEENet's exit block: ``depth`` x (3x3 conv C->C, BN, ReLU), global pool, classifier + confidence.

``depth`` 2 is PTEENet's ``conv2``, the configuration its configs use (docs/methods.md, `pteenet`).
"""
from __future__ import annotations

import torch
from torch import nn

from eexit.config.arguments import check_arguments
from eexit.models.heads.base import ConfidenceHead, HeadOutput


class ConvXHead(nn.Module):
    kind = "convx"  # the name reports and sweep summaries use
    learns_confidence = True  # outputs a sigmoid "exit here" score

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, depth: int = 2):
        super().__init__()
        check_arguments(type(self), depth=depth)
        c = in_shape[0]
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = ConfidenceHead(c, num_classes)

    def forward(self, x: torch.Tensor) -> HeadOutput:
        return self.out(self.body(x))
