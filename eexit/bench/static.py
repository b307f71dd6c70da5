"""The question a user asks first: is an early-exit network better than a smaller plain network of the same
family at the same compute? Used by ``benchmarks/latency.py --static``.

The family of a ResNet18 (eexit's CIFAR one, or torchvision's) is every ResNet with 1 or 2 BasicBlocks per
stage (ResNet-10 [1,1,1,1] up to ResNet-16); of a CIFAR ResNet-(6n+2) every one with 1..n blocks per stage
(ResNet-8 [1,1,1] up to the full depth); widths unchanged. For latency the members are timed untrained (latency
does not depend on the weights): for each exit mix, the member whose MACs are closest to the early-exit network's
expected MACs, against the full plain network, interleaved, as the early exit is. With ``--checkpoint`` the two
members around the early exit's MACs (the dearest one below, the cheapest one above) are also trained on the
checkpoint's data with the recipe its backbone was trained with (read from the backbone cache entry: optimizer,
schedule, epochs, seed, precision), and their test accuracy is set beside the early exit's and the backbone's.
"""
from __future__ import annotations

import itertools
import re
import time
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from eexit.costs.flops import count_macs


def builders(arch: str, num_classes: int) -> dict[str, Callable[[], nn.Module]]:
    """``{name: build}`` for the smaller ResNets of ``arch``'s family (empty if none known); ``build()`` makes one
    freshly initialised, drawing from the global RNG as the pipeline's own backbone does."""
    name = lambda d: f"ResNet-{2 + 2 * sum(d)} {list(d)}"   # noqa: E731
    from eexit.models.backbones.resnet import staged_resnet
    if arch in ("resnet18", "torchvision-resnet18"):
        depths = [d for d in itertools.product((1, 2), repeat=4) if d != (2, 2, 2, 2)]
        if arch == "resnet18":
            return {name(d): partial(staged_resnet, name(d), [64, 128, 256, 512], list(d), num_classes) for d in depths}
        from torchvision.models.resnet import BasicBlock, ResNet
        return {name(d): partial(ResNet, BasicBlock, list(d), num_classes=num_classes) for d in depths}
    cifar = re.fullmatch(r"resnet(\d+)", arch)
    if cifar and (int(cifar[1]) - 2) % 6 == 0:
        n = (int(cifar[1]) - 2) // 6
        depths = [d for d in itertools.product(range(1, n + 1), repeat=3) if d != (n, n, n)]
        return {name(d): partial(staged_resnet, name(d), [16, 32, 64], list(d), num_classes) for d in depths}
    return {}


def family(arch: str, num_classes: int) -> dict[str, nn.Module]:
    """``{name: untrained plain network}`` of the smaller ResNets of ``arch``'s family (empty if none known)."""
    return {n: build().eval() for n, build in builders(arch, num_classes).items()}


def macs_of(variants: dict[str, nn.Module], image_shape: tuple[int, ...]) -> dict[str, int]:
    x = torch.zeros(1, *image_shape)
    return {n: count_macs(m, x) for n, m in variants.items()}


def closest(variants: dict[str, nn.Module], image_shape: tuple[int, ...], target_macs: float) -> tuple[str, int]:
    """The variant whose MACs at ``image_shape`` are closest to ``target_macs``, and its MACs."""
    macs = macs_of(variants, image_shape)
    best = min(macs, key=lambda n: abs(macs[n] - target_macs))
    return best, macs[best]


def around(macs: dict[str, int], target: float) -> list[str]:
    """The dearest member at or below ``target`` MACs and the cheapest one above it (those that exist)."""
    below = [n for n in macs if macs[n] <= target]
    above = [n for n in macs if macs[n] > target]
    return ([max(below, key=macs.get)] if below else []) + ([min(above, key=macs.get)] if above else [])


def training_recipe(weights_file: str | None) -> dict | None:
    """How the checkpoint's backbone was trained (its cache entry's ``spec``: ``pretrain``, ``seed``,
    ``precision``), or None when its weights came from elsewhere (the user's file: no recipe to repeat)."""
    from eexit.pipeline.backbone_cache import load_entry
    entry = load_entry(Path(weights_file)) if weights_file else None
    return None if entry is None else entry["spec"]


def train_like_backbone(build: Callable[[], nn.Module], data_cfg: dict, spec: dict) -> dict:
    """A network from ``build()`` trained as the checkpoint's backbone was: the same data, recipe, seed and
    precision, on the CPU, seeded before the data and the network are made as the pipeline seeds (given the
    backbone's own builder this repeats its training; a test checks the accuracy comes out equal). Returns its
    validation and test accuracy and the training seconds."""
    import lightning as L
    from hydra.utils import instantiate

    from eexit.methods import Pretraining
    from eexit.pipeline.backbone import accuracies
    L.seed_everything(spec["seed"], workers=True, verbose=False)
    dm = instantiate(data_cfg)
    dm.setup()
    recipe = Pretraining(**spec["pretrain"])
    module = recipe.classifier(build())
    trainer = L.Trainer(max_epochs=recipe.epochs, accelerator="cpu", precision=spec.get("precision", "32-true"),
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    recipe.fit_backbone(module, dm, trainer)
    seconds = time.perf_counter() - start
    return {**accuracies(trainer, module, dm), "train_seconds": seconds}
