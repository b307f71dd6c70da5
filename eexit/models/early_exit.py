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

from eexit.models.backbones.staged import StagedBackbone
from eexit.models.heads import HeadOutput


@dataclass
class AllExits:
    """Every exit's output on one batch: ``len(heads) + 1`` entries, the backbone's last."""

    logits: list[torch.Tensor]
    confidences: list[torch.Tensor | None]


class EarlyExitNet(nn.Module):
    def __init__(self, backbone: StagedBackbone, attach: list[int], heads: list[nn.Module]):
        super().__init__()
        if len(attach) != len(heads):
            raise ValueError("one attach block per head")
        if list(attach) != sorted(set(attach)) or attach[-1] >= backbone.num_blocks - 1:
            raise ValueError(f"attach blocks {attach} must increase and precede the classifier")
        self.backbone, self.attach, self.heads = backbone, list(attach), nn.ModuleList(heads)

    @property
    def num_exits(self) -> int:
        """Early exits; exit index ``num_exits`` is the backbone's own output."""
        return len(self.heads)

    def segments(self) -> list[tuple[int, int]]:
        """Block ranges between consecutive exits: head i reads the output of segment i."""
        bounds = [0] + [a + 1 for a in self.attach] + [self.backbone.num_blocks]
        return list(zip(bounds[:-1], bounds[1:]))

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Feature maps at every attach point and the backbone's final logits."""
        feats = []
        for start, end in self.segments()[:-1]:
            x = self.backbone(x, start, end)
            feats.append(x)
        return feats, self.backbone(x, self.segments()[-1][0])

    def heads_on(self, feats: list[torch.Tensor]) -> list[HeadOutput]:
        return [head(f) for head, f in zip(self.heads, feats)]

    def forward_all(self, x: torch.Tensor) -> AllExits:
        feats, final = self.features(x)
        outs = self.heads_on(feats)
        return AllExits([o.logits for o in outs] + [final], [o.confidence for o in outs] + [None])

    forward = forward_all

    @torch.no_grad()
    def infer(self, x: torch.Tensor, policy) -> tuple[torch.Tensor, torch.Tensor]:
        """Real early exit. Returns ``(prediction [B], exit index [B])``; index ``num_exits`` = backbone."""
        batch = x.shape[0]
        preds = torch.empty(batch, dtype=torch.long, device=x.device)
        exits = torch.full((batch,), self.num_exits, dtype=torch.long, device=x.device)
        alive = torch.arange(batch, device=x.device)
        segments = self.segments()
        for i, (start, end) in enumerate(segments[:-1]):
            x = self.backbone(x, start, end)
            out = self.heads[i](x)
            leave, pred = policy.decide(i, out.logits, out.confidence)
            if leave.any():
                gone = alive[leave]
                preds[gone], exits[gone] = pred[leave], i
                stay = ~leave
                if not stay.any():
                    return preds, exits
                x, alive = x[stay], alive[stay]
        preds[alive] = self.backbone(x, segments[-1][0]).argmax(1)
        return preds, exits
