"""The question a user asks first: is an early-exit network better than a smaller plain network of the same
family at the same compute? Used by ``benchmarks/latency.py``.

For a ResNet18 (eexit's CIFAR one, or torchvision's), the family is every ResNet with 1 or 2 BasicBlocks per
stage (ResNet-10 [1,1,1,1] up to ResNet-16; widths unchanged), built untrained: latency does not depend on the
weights. For each exit mix, the variant whose MACs are closest to the early-exit network's expected MACs at that
mix is timed against the full plain network, interleaved, as the early exit is. Accuracy is not measured here (the
variants are untrained); train one with ``python run.py method=backbone`` and a backbone config to compare it.
"""
from __future__ import annotations

import itertools

import torch
from torch import nn

from eexit.flops import count_macs


def family(arch: str, num_classes: int) -> dict[str, nn.Module]:
    """``{name: untrained plain network}`` of the smaller ResNets of ``arch``'s family (empty if none known)."""
    depths = [d for d in itertools.product((1, 2), repeat=4) if d != (2, 2, 2, 2)]
    name = lambda d: f"ResNet-{2 + 2 * sum(d)} {list(d)}"   # noqa: E731
    if arch == "resnet18":
        from eexit.models.backbones.resnet import staged_resnet
        return {name(d): staged_resnet(name(d), [64, 128, 256, 512], list(d), num_classes).eval() for d in depths}
    if arch == "torchvision-resnet18":
        from torchvision.models.resnet import BasicBlock, ResNet
        return {name(d): ResNet(BasicBlock, list(d), num_classes=num_classes).eval() for d in depths}
    return {}


def closest(variants: dict[str, nn.Module], image_shape: tuple[int, ...], target_macs: float) -> tuple[str, int]:
    """The variant whose MACs at ``image_shape`` are closest to ``target_macs``, and its MACs."""
    x = torch.zeros(1, *image_shape)
    macs = {n: count_macs(m, x) for n, m in variants.items()}
    best = min(macs, key=lambda n: abs(macs[n] - target_macs))
    return best, macs[best]
