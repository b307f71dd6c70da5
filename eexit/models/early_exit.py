"""EarlyExitNet: a staged backbone with exit heads after chosen blocks.

Two forwards that must agree:
- ``forward_all`` runs every head on every sample (training, cached evaluation);
- ``infer`` is the deployed path: block by block, exited samples are removed from
  the batch, so their remaining compute really stops.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eexit.errors import BadArgument
from eexit.models.backbones.staged import StagedBackbone
from eexit.models.heads import HeadOutput
from eexit.models.inference import (  # noqa: F401 (re-exported)
    StagedInference,
    gather_rows,
    is_channels_last,
    pad_to_bucket,
)


@dataclass
class AllExits:
    """Every exit's output on one batch: ``len(heads) + 1`` entries, the backbone's last."""

    logits: list[torch.Tensor]
    confidences: list[torch.Tensor | None]


class EarlyExitNet(StagedInference, nn.Module):
    def __init__(self, backbone: StagedBackbone, attach: list[int], heads: list[nn.Module]):
        super().__init__()
        if len(attach) != len(heads):
            raise BadArgument("EarlyExitNet", "attach", list(attach), f"one block per head ({len(heads)})")
        if list(attach) != sorted(set(attach)) or (attach and attach[-1] >= backbone.num_blocks - 1):
            raise BadArgument("EarlyExitNet", "attach", list(attach), "increasing blocks before the classifier")
        self.backbone, self.attach, self.heads = backbone, list(attach), nn.ModuleList(heads)
        bounds = [0] + [a + 1 for a in self.attach] + [backbone.num_blocks]
        self._segments = list(zip(bounds[:-1], bounds[1:]))   # fixed with the attach points; read per stage call

    @property
    def num_exits(self) -> int:
        """Early exits; exit index ``num_exits`` is the backbone's own output."""
        return len(self.heads)

    def segments(self) -> list[tuple[int, int]]:
        """Block ranges between consecutive exits: head i reads the output of segment i."""
        return list(self._segments)

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Feature maps at every attach point and the backbone's final logits."""
        feats = []
        for start, end in self.segments()[:-1]:
            x = self.backbone(x, start, end)
            feats.append(x)
        return feats, self.final(x)

    @classmethod
    def assemble(cls, backbone: StagedBackbone, attach: list[int], head, num_classes: int,
                 image_shape: tuple[int, ...]) -> "EarlyExitNet":
        """Heads from ``head(in_shape, num_classes)`` after the ``attach`` blocks (see :func:`build_exit_net`)."""
        return build_exit_net(backbone, attach, head, num_classes, image_shape)

    def extra_modules(self) -> nn.Module:
        """Modules beside backbone and heads that a checkpoint keeps (ZTW's cascade and ensembles)."""
        return nn.ModuleDict()

    def exit_module(self, i: int) -> nn.Module:
        """The parameters whose training trains exit i (its head)."""
        return self.heads[i]

    def combine_macs(self, i: int, num_classes: int) -> int:
        """Multiply-accumulates :meth:`combine` adds at exit i."""
        return 0

    def heads_on(self, feats: list[torch.Tensor], wanted=None) -> list[HeadOutput | None]:
        """Every exit's answer on its features; exits not in ``wanted`` (default: all) give ``None``
        (those a combining exit reads are still computed)."""
        last = self.num_exits - 1 if wanted is None else max(wanted, default=-1)
        outs, carry = [], None
        for i in range(last + 1):
            if self.combines or wanted is None or i in wanted:
                out, carry = self.combine(i, self.heads[i](feats[i]), carry)
                outs.append(out if wanted is None or i in wanted else None)
            else:
                outs.append(None)
        return outs + [None] * (self.num_exits - len(outs))

    def forward_all(self, x: torch.Tensor) -> AllExits:
        feats, final = self.features(x)
        outs = self.heads_on(feats)
        return AllExits([o.logits for o in outs] + [final], [o.confidence for o in outs] + [None])

    forward = forward_all

    def stage(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, HeadOutput]:
        """Blocks up to exit i and head i's raw output (``combine`` makes it the exit's answer)."""
        start, end = self._segments[i]
        x = self.backbone(x, start, end)
        return x, self.heads[i](x)

    def final(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x, self._segments[-1][0])

    @torch.no_grad()
    def warmup(self, buckets: list[int], image_shape: tuple[int, ...]) -> None:
        """Run every stage once at every bucket size (cuDNN algorithm choice, allocator, compile)."""
        device = next(self.parameters()).device
        for b in buckets:
            self.forward_all(torch.zeros(b, *image_shape, device=device))


def build_exit_net(backbone: StagedBackbone, attach: list[int], head, num_classes: int,
                   image_shape: tuple[int, ...]) -> EarlyExitNet:
    """Heads from ``head(in_shape, num_classes)`` (a head class or a partial of one) after
    the ``attach`` blocks of ``backbone``, each sized for the feature map it reads."""
    shapes = backbone.feature_shapes(image_shape)
    return EarlyExitNet(backbone, attach, [head(shapes[a], num_classes) for a in attach])
