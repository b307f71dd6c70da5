"""BTS-EE's lightweight 1D-convolution head (our design; the paper does not publish its layers).

Design: the C x H x W feature map is average-pooled to at most ``pool_to`` x ``pool_to``
and read as a sequence of H*W positions with C channels. ``layers`` x (Conv1d
kernel ``kernel_size``, stride 2 -> BatchNorm1d -> ReLU) with ``width`` filters
summarise it, then a global average over positions and one linear layer give the
logits. Cost: on a CIFAR ResNet18 the default (width 32, 2 layers) adds 0.06-0.15 %
of the backbone's MACs per head (docs/configuration.md).
"""
from __future__ import annotations

import torch
from torch import nn

from eexit.config.arguments import check_arguments
from eexit.config.validators import require
from eexit.models.heads.base import HeadOutput


class Conv1dHead(nn.Module):
    kind = "conv1d"  # the name reports and sweep summaries use
    learns_confidence = False  # outputs a sigmoid "exit here" score

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, width: int = 32,
                 kernel_size: int = 3, layers: int = 2, pool_to: int = 8):
        super().__init__()
        check_arguments(type(self), width=width, kernel_size=kernel_size, layers=layers, pool_to=pool_to)
        c, h, w = in_shape
        # the parameter-free first step: a feature store may apply it once and keep the reduced map
        # (pooling an already pooled map to the same size is the identity)
        self.input_reduction = (min(h, pool_to), min(w, pool_to))
        positions = self.input_reduction[0] * self.input_reduction[1]   # a kernel wider than the sequence reads padding
        within = f"at most {positions} (the positions of the {h}x{w} map pooled to at most {pool_to}x{pool_to})"
        require("Conv1dHead", kernel_size=(kernel_size, lambda v: (v <= positions, within)))
        self.pool = nn.AdaptiveAvgPool2d(self.input_reduction)
        convs: list[nn.Module] = []
        cin = c
        for _ in range(layers):
            convs += [nn.Conv1d(cin, width, kernel_size, stride=2, padding=kernel_size // 2, bias=False),
                      nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
            cin = width
        self.convs = nn.Sequential(*convs)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> HeadOutput:
        seq = torch.flatten(self.pool(x), 2)           # [B, C, L]
        z = self.convs(seq).mean(dim=2)                # [B, width]
        return HeadOutput(self.fc(z), None)
