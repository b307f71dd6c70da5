"""Any ``nn.Module`` of your own as a staged backbone: traced once with ``torch.fx`` and cut into blocks.

From Python, ``module_backbone(MyNet(), stages=["layer1", "layer2"])``; from a config (``backbone=module``, or a
yaml of your own whose defaults name it), ``model`` is your network's ``_target_``, built by Hydra. The network
is cut after each module named in ``stages`` (each cut becomes an attach point for an exit), or, with ``stages:
null``, after the last clean cut at each feature-map resolution (measured on an ``example_size`` image). Its last
``nn.Linear`` is resized to the data's classes when it has another count.
"""
from __future__ import annotations

from typing import Sequence

from torch import nn

from eexit.config.arguments import check_arguments
from eexit.errors import BadArgument
from eexit.models.backbones.library import _resize_last_linear, _stage
from eexit.models.backbones.staged import StagedBackbone, load_weights


def module_backbone(model: nn.Module, num_classes: int = 10, stages: Sequence[str] | None = None,
                    weights: str | None = None, example_size: int = 32, name: str | None = None) -> StagedBackbone:
    """Args:
        model: the network (from a config: built from its ``_target_``); it must end in an ``nn.Linear``.
        stages: names of the modules (``model.named_modules()``) after which it may exit, in order.
        weights: a ``state_dict`` file saved from ``model`` (``torch.save(model.state_dict(), f)``), used as is.
        example_size: the side of the square image the resolution rule traces with (``stages: null``).
        name: the backbone's name in reports and cache keys (default: ``module-<class name>``).
    """
    check_arguments(module_backbone, num_classes=num_classes, weights=weights, example_size=example_size)
    if not isinstance(model, nn.Module):
        raise BadArgument("module_backbone", "model", type(model).__name__, "an nn.Module (from a config: a _target_)")
    if not any(isinstance(m, nn.Linear) for m in model.modules()):
        raise BadArgument("module_backbone", "model", type(model).__name__,
                          "a network that ends in an nn.Linear classifier")
    known = {n for n, _ in model.named_modules() if n}
    if stages and (unknown := [s for s in stages if s not in known]):
        raise BadArgument("module_backbone", "stages", list(stages),
                          f"names of {type(model).__name__}'s modules; {', '.join(unknown)} is not one "
                          f"(some are: {', '.join(sorted(known)[:8])})")
    arch = name or f"module-{type(model).__name__}"
    _resize_last_linear(model, num_classes)
    load_weights(model, weights, arch)
    return _stage(model, arch, num_classes, list(stages) if stages else None, example_size=example_size)
