"""Staged backbones: eexit's CIFAR architectures, any timm or torchvision CNN, and any nn.Module of yours. Configs instantiate the builders directly (``eexit/conf/backbone/*.yaml``);
``build_backbone("resnet18", num_classes=10)`` looks one up by name."""
from __future__ import annotations

from functools import partial
from typing import Callable

from eexit.errors import EExitError
from eexit.models.backbones.densenet import densenet121
from eexit.models.backbones.library import timm_backbone, torchvision_backbone
from eexit.models.backbones.module import module_backbone
from eexit.models.backbones.resnet import cifar_resnet, resnet18
from eexit.models.backbones.staged import StagedBackbone, load_weights
from eexit.models.backbones.vgg import vgg_bn

BACKBONES: dict[str, Callable[..., StagedBackbone]] = {
    "resnet18": resnet18,
    **{f"resnet{d}": partial(cifar_resnet, d) for d in (20, 32, 44, 56, 110)},
    **{f"vgg{d}_bn": partial(vgg_bn, d) for d in (11, 13, 16, 19)},
    "densenet121": densenet121,
}


def build_backbone(name: str, num_classes: int = 10, weights: str | None = None) -> StagedBackbone:
    """``name``: an eexit backbone, or ``timm:<model>`` / ``torchvision:<model>``."""
    library, _, model = name.partition(":")
    if model and library in ("timm", "torchvision"):
        build = timm_backbone if library == "timm" else torchvision_backbone
        return build(model, num_classes=num_classes, weights=weights)
    if name not in BACKBONES:
        raise EExitError(f"unknown backbone '{name}'; choose one of: {', '.join(BACKBONES)}, "
                         f"or timm:<model> / torchvision:<model>")
    return BACKBONES[name](num_classes=num_classes, weights=weights)


__all__ = ["BACKBONES", "StagedBackbone", "build_backbone", "cifar_resnet", "densenet121", "load_weights",
           "module_backbone", "resnet18", "timm_backbone", "torchvision_backbone", "vgg_bn"]
