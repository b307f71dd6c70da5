"""CIFAR DenseNet121 (growth 32, blocks 6/12/24/16, compression 0.5, 3x3 stem).

Each dense layer is one block whose output is the concatenation of its input and
its new features, so any dense layer or transition output is an attach point.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from eexit.config.arguments import check_arguments
from eexit.models.backbones.staged import Classifier, StagedBackbone, kaiming_init, load_weights


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (4g) - BN-ReLU-3x3 conv (g), concatenated to the input."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, 4 * growth, 1, bias=False),
            nn.BatchNorm2d(4 * growth), nn.ReLU(inplace=True),
            nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], 1)


def transition(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False),
                         nn.AvgPool2d(2))


def densenet121(num_classes: int = 10, growth: int = 32, reduction: float = 0.5,
                weights: str | None = None) -> StagedBackbone:
    check_arguments(densenet121, num_classes=num_classes, weights=weights)
    depths = [6, 12, 24, 16]
    channels = 2 * growth
    blocks: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1, bias=False)]
    names = ["stem"]
    for stage, depth in enumerate(depths):
        for i in range(depth):
            blocks.append(DenseLayer(channels, growth))
            names.append(f"dense{stage + 1}.{i}")
            channels += growth
        if stage < len(depths) - 1:
            out = int(math.floor(channels * reduction))
            blocks.append(transition(channels, out))
            names.append(f"transition{stage + 1}")
            channels = out
    blocks.append(Classifier(channels, num_classes, pre=nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())))
    names.append("classifier")
    model = StagedBackbone(blocks, names, "densenet121", num_classes)
    kaiming_init(model)
    return load_weights(model, weights)
