"""An iterable of augmented, normalised batches over in-memory uint8 images.

Lightning accepts any iterable with ``__len__`` as a dataloader. Holding the whole
dataset as one uint8 tensor (on the CPU, or on the GPU when it fits) and slicing
batches from a permutation avoids per-sample Python work entirely.
"""
from __future__ import annotations

import math

import torch

from eexit.data.augment import normalize, random_crop, random_flip


class TensorBatchLoader:
    """Batches of ``(image_float, label)`` from uint8 images ``[N,3,H,W]``.

    Args:
        images, labels: the split, uint8 and int64, on any device.
        batch_size: samples per batch.
        mean, std: per-channel normalisation (on the 0..1 scale).
        shuffle: new permutation every epoch (seeded by ``seed`` + epoch).
        crop_padding: random-crop padding in pixels (0 disables).
        flip: random horizontal flip.
        drop_last: drop the final short batch (fixed shapes for training).
        seed: makes the order and augmentation reproducible.
        with_index: yield ``(image, label, sample index)`` (losses that keep per-sample state).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 mean: torch.Tensor, std: torch.Tensor, shuffle: bool = False,
                 crop_padding: int = 0, flip: bool = False, drop_last: bool = False,
                 seed: int = 0, pad_fill: str = "zero", with_index: bool = False):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 [N,C,H,W], got {images.dtype} {tuple(images.shape)}")
        self.images, self.labels = images, labels
        self.batch_size = int(batch_size)
        self.mean, self.std = mean, std
        self.shuffle, self.crop_padding, self.flip = shuffle, int(crop_padding), flip
        self.drop_last, self.seed, self.pad_fill = drop_last, seed, pad_fill
        self.with_index = with_index
        self.epoch = 0

    def __len__(self) -> int:
        n = self.images.shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        self.epoch += 1
        n = self.images.shape[0]
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        order = order.to(self.images.device)
        fill = (self.mean * 255).round() if self.pad_fill == "mean" else 0.0
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.images.index_select(0, idx)
            if self.crop_padding:
                x = random_crop(x, self.crop_padding, gen, fill=fill)
            if self.flip:
                x = random_flip(x, gen)
            batch = (normalize(x, self.mean, self.std), self.labels.index_select(0, idx))
            yield (*batch, idx) if self.with_index else batch
