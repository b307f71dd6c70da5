"""CIFAR ResNets: ResNet18 (3x3 stem, no max-pool) and ResNet-(6n+2) (20/32/44/56/110)."""
from __future__ import annotations

import torch
from torch import nn

from eexit.config.arguments import check_arguments
from eexit.models.backbones.staged import Classifier, StagedBackbone, kaiming_init, load_weights


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and an identity (or 1x1 conv-BN projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1, self.conv2 = conv_bn(cin, cout, 3, stride), conv_bn(cout, cout, 3, 1)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + self.shortcut(x))


def staged_resnet(arch: str, widths: list[int], depths: list[int], num_classes: int) -> StagedBackbone:
    blocks: list[nn.Module] = [nn.Sequential(*conv_bn(3, widths[0]), nn.ReLU(inplace=True))]
    names = ["stem"]
    cin = widths[0]
    for stage, (width, depth) in enumerate(zip(widths, depths)):
        for i in range(depth):
            blocks.append(BasicBlock(cin, width, 2 if (i == 0 and stage > 0) else 1))
            names.append(f"layer{stage + 1}.{i}")
            cin = width
    blocks.append(Classifier(cin, num_classes))
    names.append("classifier")
    model = StagedBackbone(blocks, names, arch, num_classes)
    kaiming_init(model)
    return model


def resnet18(num_classes: int = 10, weights: str | None = None) -> StagedBackbone:
    """CIFAR ResNet18: 64-128-256-512 channels, 2 blocks per stage (0.56 GMAC at 32x32).
    ``weights``: a state_dict file to load (otherwise Kaiming-initialised)."""
    check_arguments(resnet18, num_classes=num_classes, weights=weights)
    return load_weights(staged_resnet("resnet18", [64, 128, 256, 512], [2, 2, 2, 2], num_classes), weights)


def cifar_resnet(depth: int, num_classes: int = 10, weights: str | None = None) -> StagedBackbone:
    """He et al.'s CIFAR ResNet-(6n+2): 16-32-64 channels, n blocks per stage."""
    check_arguments(cifar_resnet, depth=depth, num_classes=num_classes, weights=weights)
    n = (depth - 2) // 6
    return load_weights(staged_resnet(f"resnet{depth}", [16, 32, 64], [n, n, n], num_classes), weights)
