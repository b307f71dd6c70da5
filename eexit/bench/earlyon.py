"""The closest peer on PyPI, ``earlyon`` (0.3.0), on the same network and exit mix as eexit: an optional row of
``benchmarks/latency.py --peer earlyon`` (``pip install -c constraints.txt -e '.[peers]'``; part of ``dev``).

earlyon's deployable runtime (``earlyon.staged.staged_model``) cuts an ``nn.Sequential`` backbone at top-level
exit layers and, at batch 1, routes on each head's max softmax. eexit's staged backbone is a list of blocks run in
order, so the same (BatchNorm-folded) blocks in an ``nn.Sequential`` are the same network for earlyon. Each
library's thresholds are set on the same calibration images so that the same share leaves at each exit; the two
are then timed in alternation on the same images, with each library's default heads, and with earlyon's
pool + MLP heads in both (equal head cost: what is left is routing).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from eexit.exits import ExitPolicy
from eexit.models.early_exit import EarlyExitNet
from eexit.models.heads import HeadOutput


def as_eexit_head(head: nn.Module) -> nn.Module:
    """earlyon's ``head`` in eexit's head contract (returns ``HeadOutput``) with no wrapper module on the path: the
    same module, weights shared, its class extended. A wrapping ``nn.Module`` would add one module call per exit
    to eexit's side only, so its routing would look dearer than it is."""
    base = type(head)
    adapted = type(f"EExit{base.__name__}", (base,),
                   {"forward": lambda self, x: HeadOutput(base.forward(self, x), None)})
    out = copy.copy(head)   # shares the parameters; the earlyon wrapper keeps its own head untouched
    out.__class__ = adapted
    return out


def earlyon_staged(net: EarlyExitNet, image_shape: tuple[int, ...]):
    """``(earlyon StagedModel over net's blocks with earlyon's default heads, the eager wrapper)``."""
    from earlyon.models.custom import custom_ee
    torch.manual_seed(0)
    sequential = nn.Sequential(*net.backbone.blocks)
    wrapper = custom_ee(sequential, [str(a) for a in net.attach], net.backbone.num_classes,
                        input_shape=(1, *image_shape), confidence_thresholds=[1.0] * net.num_exits).eval()
    return wrapper


def peer_scores(wrapper, net: EarlyExitNet, images: torch.Tensor) -> torch.Tensor:
    """Max softmax of each earlyon head on ``images`` (the score earlyon routes on): ``[exits, N]``."""
    heads = [wrapper.exit_heads[ep.name] for ep in wrapper.config.exit_points]
    out, h = [], images
    with torch.no_grad():
        for i, (start, end) in enumerate(net.segments()[:-1]):
            h = net.backbone(h, start, end)
            out.append(torch.softmax(heads[i](h), dim=1).amax(1))
    return torch.stack(out)


def with_peer_heads(net: EarlyExitNet, wrapper) -> EarlyExitNet:
    """``net``'s backbone with earlyon's heads: equal head cost in both libraries."""
    heads = [as_eexit_head(wrapper.exit_heads[ep.name]) for ep in wrapper.config.exit_points]
    return EarlyExitNet(net.backbone, net.attach, heads).eval()


def staged_with_thresholds(wrapper, thresholds: list[float]):
    """earlyon's staged runtime with these per-exit confidence thresholds (checked against its eager wrapper)."""
    from earlyon.staged import staged_model
    wrapper.config.confidence_thresholds = [float(t) for t in thresholds]
    wrapper.config.validate()
    return staged_model(wrapper).eval()


def policy_for(thresholds: list[float], num_classes: int) -> ExitPolicy:
    """eexit's policy with the same rule earlyon applies (max softmax >= threshold, every class)."""
    return ExitPolicy("max_softmax", torch.tensor(thresholds).view(-1, 1).expand(-1, num_classes).contiguous())
