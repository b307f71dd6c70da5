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


class StagedInference:
    """Real early exit over a chain of stages; a subclass says what a stage is.

    ``stage(i, x) -> (features, HeadOutput)`` runs the backbone up to exit i (from exit
    i-1's features) and head i; ``final(x) -> logits`` runs the rest. ``EarlyExitNet``
    implements them with its modules, ``eexit.export.ExportedExitNet`` with exported
    programs, so both share one inference loop and its guarantees.
    """

    num_exits: int

    def stage(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, HeadOutput]:
        raise NotImplementedError

    def final(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.inference_mode()
    def infer(self, x: torch.Tensor, policy, buckets: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Real early exit. Returns ``(prediction [B], exit index [B])``; index ``num_exits`` = backbone.

        ``buckets`` (sorted batch sizes): the surviving batch is zero-padded up to the next bucket,
        so every stage only ever sees those shapes (pre-warm them with :meth:`warmup`; no
        per-shape autotuning or recompilation). Padded rows never reach a decision.
        A batch of one takes :meth:`infer_one`'s path.
        """
        batch = x.shape[0]
        if batch == 1:
            pred, exit_index = self.infer_one(x, policy)
            return (torch.tensor([pred], device=x.device), torch.tensor([exit_index], device=x.device))
        preds = torch.empty(batch, dtype=torch.long, device=x.device)
        exits = torch.full((batch,), self.num_exits, dtype=torch.long, device=x.device)
        alive = torch.arange(batch, device=x.device)
        x = pad_to_bucket(x, buckets)
        prev = streak = None   # patience only: the survivors' previous prediction and streak
        for i in range(self.num_exits):
            x, out = self.stage(i, x)
            n = alive.numel()
            conf = None if out.confidence is None else out.confidence[:n]
            if policy.needs_streak:
                streak = policy.next_streak(out.logits[:n].argmax(1), prev, streak)
            leave, pred = policy.decide(i, out.logits[:n], conf, streak)
            prev = pred
            leaving = int(leave.sum())  # the one host sync per exit: the survivor count sizes the next stage
            if leaving == n:
                preds[alive], exits[alive] = pred, i
                return preds, exits
            if leaving:
                gone = alive[leave]
                preds[gone], exits[gone] = pred[leave], i
                stay = ~leave
                x, alive = pad_to_bucket(gather_rows(x[:n], stay), buckets), alive[stay]
                if streak is not None:
                    prev, streak = prev[stay], streak[stay]
        preds[alive] = self.final(x)[:alive.numel()].argmax(1)
        return preds, exits

    @torch.inference_mode()
    def infer_one(self, x: torch.Tensor, policy) -> tuple[int, int]:
        """One sample ``[1, C, H, W]`` -> ``(prediction, exit index)`` as Python ints.

        The latency path (embedded, batch 1): no survivor bookkeeping, one host read
        per exit; decisions are :meth:`ExitPolicy.decide_one`, equal to ``decide``'s."""
        prev = streak = None
        for i in range(self.num_exits):
            x, out = self.stage(i, x)
            if policy.needs_streak:
                streak = policy.next_streak(out.logits.argmax(1), prev, streak)
                prev = out.logits.argmax(1)
            leave, pred = policy.decide_one(i, out.logits, out.confidence, streak)
            if leave:
                return pred, i
        return int(self.final(x).argmax(1)), self.num_exits


class EarlyExitNet(StagedInference, nn.Module):
    def __init__(self, backbone: StagedBackbone, attach: list[int], heads: list[nn.Module]):
        super().__init__()
        if len(attach) != len(heads):
            raise ValueError("one attach block per head")
        if list(attach) != sorted(set(attach)) or (attach and attach[-1] >= backbone.num_blocks - 1):
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
        return feats, self.final(x)

    def heads_on(self, feats: list[torch.Tensor]) -> list[HeadOutput]:
        return [head(f) for head, f in zip(self.heads, feats)]

    def forward_all(self, x: torch.Tensor) -> AllExits:
        feats, final = self.features(x)
        outs = self.heads_on(feats)
        return AllExits([o.logits for o in outs] + [final], [o.confidence for o in outs] + [None])

    forward = forward_all

    def stage(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, HeadOutput]:
        start, end = self.segments()[i]
        x = self.backbone(x, start, end)
        return x, self.heads[i](x)

    def final(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x, self.segments()[-1][0])

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


def is_channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def gather_rows(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``x[keep]``, gathered along the NHWC view when ``x`` is channels_last so the result stays so."""
    return x.permute(0, 2, 3, 1)[keep].permute(0, 3, 1, 2) if is_channels_last(x) else x[keep]


def pad_to_bucket(x: torch.Tensor, buckets: list[int] | None) -> torch.Tensor:
    """Zero-pad the batch up to the smallest bucket that holds it (unchanged if none does)."""
    n = x.shape[0]
    size = next((b for b in buckets if b >= n), n) if buckets else n
    if size == n:
        return x
    out = x.new_zeros((size, *x.shape[1:]))
    if is_channels_last(x):
        out = out.contiguous(memory_format=torch.channels_last)
    out[:n] = x
    return out
