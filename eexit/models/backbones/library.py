"""timm and torchvision models as staged backbones.

The model's own stage description says where to cut: timm's ``feature_info`` (the modules its
``features_only`` wrapper returns), a table of torchvision stage modules per family, and for any
other torchvision model the last clean cut at each feature-map resolution (``graph_split``).
The cut graph runs exactly the library model's forward, so staged outputs equal the model's own.

Weights: ``pretrained`` loads the library's weights from its usual cache (downloading when
online): ``true`` for timm's default tag or torchvision's ``DEFAULT`` enum, or a name
(``IMAGENET1K_V2``, a timm tag). ``weights=<file>`` loads a state_dict saved from the library model
(``torch.save(model.state_dict(), f)``). The classifier is resized when the data has another
number of classes than the weights. A pretrained model keeps its normalisation (``input_mean``,
``input_std``), which the pipeline hands to the data.

The model is traced in eval mode. Layers that read ``self.training`` stay modules and follow
``.train()``/``.eval()`` (``graph_split.MODE_DEPENDENT``); only functional code in the model's own
``forward`` that branches on it is fixed at eval (timm's ``drop_rate`` dropout before the
classifier, 0 by default), so the staged model never applies that dropout.
"""
from __future__ import annotations

import difflib
from typing import Sequence

import torch
from torch import nn

from eexit.config.arguments import check_arguments
from eexit.errors import EExitError, KeyedError
from eexit.files.torch_files import weights_only_everywhere
from eexit.models.backbones.graph_split import resolution_cuts, split_at, stage_cuts, trace
from eexit.models.backbones.staged import StagedBackbone, load_weights


def _unknown(name: str, library: str, known: Sequence[str]) -> EExitError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else f"see {library}'s model list"
    return EExitError(f"unknown {library} model '{name}'; {hint}")


def check_model_name(library: str, name: str) -> None:
    """One line naming close matches when ``library`` (``timm`` or ``torchvision``) has no model ``name``."""
    if library == "timm":
        import timm
        if not timm.is_model(name):
            raise _unknown(name, "timm", timm.list_models())
    else:
        import torchvision.models as tvm
        known = tvm.list_models(module=tvm)
        if name not in known:
            raise _unknown(name, "torchvision", known)


def _offline(name: str, exc: Exception) -> EExitError:
    return KeyedError(f"pretrained weights for {name} are not in the cache and could not be fetched "
                      f"({type(exc).__name__}); connect once to fill the cache, or save a state_dict and pass "
                      f"{{key}}weights=<file> with {{key}}pretrained=false")


def _stage(model: nn.Module, arch: str, num_classes: int, stages: Sequence[str] | None,
           leaf_types: tuple = (), autowrap: tuple = (), example_size: int = 224) -> StagedBackbone:
    model.eval()
    gm = trace(model, stages or [], leaf_types, autowrap)
    cuts = stage_cuts(gm, stages) if stages else resolution_cuts(gm, torch.zeros(1, 3, example_size, example_size))
    names = [str(c.target) if c.op == "call_module" else c.name for c in cuts] + ["classifier"]
    return StagedBackbone(split_at(gm, cuts), names, arch, num_classes)


def _resize_last_linear(model: nn.Module, num_classes: int) -> None:
    name, last = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    if last.out_features == num_classes:
        return
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], nn.Linear(last.in_features, num_classes, bias=last.bias is not None))


def timm_backbone(model: str, num_classes: int = 10, pretrained: bool | str = False,
                  weights: str | None = None, **kwargs) -> StagedBackbone:
    """Any timm CNN, staged at its ``feature_info`` modules. ``kwargs`` go to ``timm.create_model``."""
    import timm
    from timm.models._features_fx import get_notrace_functions, get_notrace_modules

    check_arguments(timm_backbone, num_classes=num_classes, weights=weights)
    check_model_name("timm", model)
    name = model if pretrained in (False, True, None) else f"{model}.{pretrained}"
    try:
        with weights_only_everywhere():   # the library's cached weights load without running code
            net = timm.create_model(name, pretrained=bool(pretrained), num_classes=num_classes, **kwargs)
    except (OSError, RuntimeError, ValueError) as exc:
        if pretrained:
            raise _offline(name, exc) from None
        raise
    load_weights(net, weights, f"timm-{model}")
    stages = [f["module"] for f in net.feature_info]
    staged = _stage(net, f"timm-{model}", num_classes, stages, tuple(get_notrace_modules()),
                    tuple(get_notrace_functions()))
    if pretrained:
        staged.input_mean, staged.input_std = tuple(net.pretrained_cfg["mean"]), tuple(net.pretrained_cfg["std"])
        staged.new_classifier = net.pretrained_cfg.get("num_classes", num_classes) != num_classes and not weights
    return staged


def torchvision_stages(name: str, model: nn.Module) -> list[str] | None:
    """torchvision's stage modules per family (``None``: use the resolution rule)."""
    if name.startswith(("resnet", "resnext", "wide_resnet")):
        return ["relu", "layer1", "layer2", "layer3", "layer4"]
    if name.startswith("vgg"):
        return [f"features.{i}" for i, m in enumerate(model.features) if isinstance(m, nn.MaxPool2d)]
    if name.startswith("densenet"):
        return [f"features.{n}" for n, _ in model.features.named_children()
                if n == "pool0" or n.startswith("transition")] + ["features.norm5"]
    if name.startswith("regnet"):
        return ["stem"] + [f"trunk_output.{n}" for n, _ in model.trunk_output.named_children()]
    if name.startswith(("mobilenet", "efficientnet", "convnext")):
        return [f"features.{i}" for i in range(len(model.features))]
    return None


def torchvision_backbone(model: str, num_classes: int = 10, pretrained: bool | str = False,
                         weights: str | None = None) -> StagedBackbone:
    """Any torchvision classification CNN. ``pretrained``: ``true`` (the ``DEFAULT`` weights) or
    an enum name such as ``IMAGENET1K_V2``."""
    import torchvision.models as tvm

    check_arguments(torchvision_backbone, num_classes=num_classes, weights=weights)
    check_model_name("torchvision", model)
    enum = None
    if pretrained:
        choices = tvm.get_model_weights(model)
        tag = "DEFAULT" if pretrained is True else str(pretrained)
        if tag not in choices.__members__:   # DEFAULT is one of them (an alias)
            raise EExitError(f"torchvision has no weights {tag} for {model}; choose one of: "
                             f"{', '.join(choices.__members__)}")
        enum = choices[tag]
    try:
        with weights_only_everywhere():   # torchvision's hub cache is otherwise read unrestricted
            net = tvm.get_model(model, weights=enum) if enum is not None else tvm.get_model(model, num_classes=num_classes)
    except (OSError, RuntimeError, ValueError) as exc:
        if enum is not None:
            raise _offline(model, exc) from None
        raise
    _resize_last_linear(net, num_classes)
    load_weights(net, weights, f"torchvision-{model}")
    staged = _stage(net, f"torchvision-{model}", num_classes, torchvision_stages(model, net))
    if enum is not None:
        transform = enum.transforms()
        staged.input_mean, staged.input_std = tuple(transform.mean), tuple(transform.std)
        staged.new_classifier = len(enum.meta["categories"]) != num_classes and not weights
    return staged
