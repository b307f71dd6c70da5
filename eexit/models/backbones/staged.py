"""A backbone as an ordered list of blocks.

The output of every block but the last is a possible attach point for an exit
head, and ``forward(x, start, end)`` runs any contiguous range of blocks, so
early-exit inference can stop after block k and resume from it later.
"""
from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """Global average pool + linear: the last block of every backbone."""

    def __init__(self, channels: int, num_classes: int, pre: nn.Module | None = None):
        super().__init__()
        self.pre = pre if pre is not None else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.pre(x)), 1))


class StagedBackbone(nn.Module):
    """``blocks[0..n-2]`` compute features, ``blocks[n-1]`` is the classifier.

    Args:
        blocks: the modules in execution order.
        names: one readable name per block (``stem``, ``layer1.0``, ... ``classifier``).
        arch: registry name, stored for reports and caches.
    """

    def __init__(self, blocks: list[nn.Module], names: list[str], arch: str, num_classes: int):
        super().__init__()
        if len(blocks) != len(names):
            raise ValueError("one name per block")
        self.blocks = nn.ModuleList(blocks)
        self.block_names = list(names)
        self.arch, self.num_classes = arch, num_classes

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def attach_points(self) -> list[int]:
        """Blocks whose output can feed a head (every block except the classifier)."""
        return list(range(self.num_blocks - 1))

    def forward(self, x: torch.Tensor, start: int = 0, end: int | None = None) -> torch.Tensor:
        for block in self.blocks[start:end]:
            x = block(x)
        return x

    @torch.no_grad()
    def feature_shapes(self, image_shape=(3, 32, 32)) -> list[tuple[int, ...]]:
        """Output shape (without batch) of every block, from one dummy forward in eval mode."""
        was_training = self.training
        self.eval()
        x = torch.zeros(1, *image_shape, device=next(self.parameters()).device)
        shapes = []
        for block in self.blocks:
            x = block(x)
            shapes.append(tuple(x.shape[1:]))
        self.train(was_training)
        return shapes


def kaiming_init(model: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, zero biases (the EENets / ResNet convention)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
