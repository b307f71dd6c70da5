"""Frozen-backbone feature cache.

With a frozen backbone (non-boosted, BTS-EE, PTEENet) the feature maps at the
attach points never change, so they are computed once per split (no augmentation)
and every head trains and evaluates on them. Boosted stages select subsets by index.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from eexit.data.augment import normalize


@dataclass
class FeatureBank:
    """One split: ``feats[i]`` [N, C, H, W] at attach point i, ``final_logits`` [N, K], ``labels`` [N]."""

    feats: list[torch.Tensor]
    final_logits: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.labels.numel()

    @property
    def backbone_pred(self) -> torch.Tensor:
        return self.final_logits.argmax(1)

    def targets(self, kind: str) -> torch.Tensor:
        """``backbone``: the frozen backbone's argmax (pseudo-labels); ``labels``: ground truth."""
        if kind == "backbone":
            return self.backbone_pred
        if kind == "labels":
            return self.labels
        raise ValueError(f"targets must be 'backbone' or 'labels', got '{kind}'")


class StreamedFeatures:
    """The features at one attach point, recomputed from the images on every access (no cache).

    Behaves like the cached tensor where the training code touches it (``shape``,
    ``index_select``, slicing), so ``method.feature_cache=false`` runs the same code on
    features it pays a backbone forward for each time.
    """

    def __init__(self, net, images: torch.Tensor, mean, std, end_block: int, shape, device):
        self.net, self.images, self.mean, self.std = net, images, mean, std
        self.end, self.device = end_block, device
        self.shape = (images.shape[0], *shape)

    @torch.no_grad()
    def index_select(self, dim: int, idx: torch.Tensor) -> torch.Tensor:
        x = normalize(self.images.index_select(0, idx.to(self.images.device)), self.mean, self.std)
        return self.net.backbone.eval()(x.to(self.device), 0, self.end)

    def __getitem__(self, sl: slice) -> torch.Tensor:
        return self.index_select(0, torch.arange(self.shape[0])[sl])


@torch.no_grad()
def streamed(net, dm, split: str, device) -> FeatureBank:
    """A bank whose features are recomputed on access; final logits are computed once."""
    images, labels = dm.splits[split]
    shapes = net.backbone.feature_shapes()
    finals = torch.cat([net.backbone.eval()(x.to(device)).float() for x, _ in dm.loader(split)])
    feats = [StreamedFeatures(net, images, dm.mean_t, dm.std_t, a + 1, shapes[a], device) for a in net.attach]
    return FeatureBank(feats, finals, labels.to(device))


@torch.no_grad()
def extract(net, loader, device, dtype: torch.dtype = torch.float32) -> FeatureBank:
    """Run the frozen backbone (eval mode) once over ``loader``; keep features on ``device``."""
    net.backbone.eval()
    feats: list[list[torch.Tensor]] = []
    finals, labels = [], []
    for x, y in loader:
        f, final = net.features(x.to(device))
        feats.append([t.to(dtype) for t in f])
        finals.append(final.float())
        labels.append(y.to(device))
    per_point = [torch.cat([b[i] for b in feats]) for i in range(len(net.attach))]
    return FeatureBank(per_point, torch.cat(finals), torch.cat(labels))


class FeatureLoader:
    """Batches ``(features list, targets, sample indices)`` over ``indices`` of a bank."""

    def __init__(self, bank: FeatureBank, targets: torch.Tensor, batch_size: int,
                 indices: torch.Tensor | None = None, shuffle: bool = False, seed: int = 0,
                 points: list[int] | None = None):
        self.bank, self.targets, self.batch_size = bank, targets, int(batch_size)
        self.indices = torch.arange(len(bank), device=targets.device) if indices is None else indices
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.points = list(range(len(bank.feats))) if points is None else points

    def __len__(self) -> int:
        return math.ceil(self.indices.numel() / self.batch_size)

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
        self.epoch += 1
        idx = self.indices
        if self.shuffle:
            idx = idx[torch.randperm(idx.numel(), generator=gen).to(idx.device)]
        for i in range(len(self)):
            b = idx[i * self.batch_size:(i + 1) * self.batch_size]
            yield [self.bank.feats[p].index_select(0, b).float() for p in self.points], self.targets[b], b
