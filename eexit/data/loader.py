"""Iterables of batches over in-memory tensors: augmented, normalised images, or any indexed source;
and the same batches from image files decoded by DataLoader workers (:class:`StreamLoader`).

Lightning accepts any iterable with ``__len__`` as a dataloader. Holding the whole
dataset as one uint8 tensor (on the CPU, or on the GPU when it fits) and slicing
batches from a permutation avoids per-sample Python work entirely.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from eexit.errors import BadArgument
from eexit.data.augment import crop_offsets, flip_flags, normalize, random_crop, random_flip
from eexit.data.image_decoding import worker_batches
from eexit.distributed import shard_order, shard_size, trainer_shard


class SelfSampling:
    """A loader that batches by itself and is its own sampler: Lightning looks for ``sampler`` and
    ``batch_sampler`` and calls ``sampler.set_epoch(e)`` before every epoch."""

    batch_sampler = None
    epoch = 0

    @property
    def sampler(self) -> "SelfSampling":
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class TensorBatchLoader(SelfSampling):
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
        with_index: yield ``(image, label, sample index)`` (losses that keep per-sample state);
            ``ids`` maps positions in ``images`` to those indices (a subset of a split).
        shard_by: the Trainer whose loop reads this loader: with several processes (DDP) each reads
            its own shard of every epoch (``eexit.distributed.shard_order``); ``None``: every sample.

    Lightning calls ``sampler.set_epoch(e)`` before every epoch, so the order and augmentation
    of epoch e are the same whether a run went straight through or resumed from a checkpoint.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 mean: torch.Tensor, std: torch.Tensor, shuffle: bool = False,
                 crop_padding: int = 0, flip: bool = False, drop_last: bool = False,
                 seed: int = 0, pad_fill: str = "zero", with_index: bool = False, shard_by=None,
                 ids: torch.Tensor | None = None):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise BadArgument("TensorBatchLoader", "images", f"{images.dtype} {tuple(images.shape)}", "uint8 [N,C,H,W]")
        self.images, self.labels = images, labels
        self.batch_size = int(batch_size)
        self.mean, self.std = mean, std
        self.shuffle, self.crop_padding, self.flip = shuffle, int(crop_padding), flip
        self.drop_last, self.seed, self.pad_fill = drop_last, seed, pad_fill
        self.with_index, self.shard_by, self.ids = with_index, shard_by, ids

    def __len__(self) -> int:
        n = shard_size(self.images.shape[0], *trainer_shard(self.shard_by), equal=self.shuffle)
        return n // self.batch_size if self.drop_last and n >= self.batch_size else math.ceil(n / self.batch_size)

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        self.epoch += 1
        n, device = self.images.shape[0], self.images.device
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        order = shard_order(order, *trainer_shard(self.shard_by), equal=self.shuffle)   # one permutation, every rank
        n = len(order)
        sizes = [min(self.batch_size, n - i * self.batch_size) for i in range(len(self))]
        dy, dx, flips = (None if d is None else d.to(device) for d in self.epoch_draws(sizes, gen))
        order = order.to(device)  # with the draws: one host-to-device copy each per epoch
        mean, std = self.mean.to(device), self.std.to(device)
        fill = (mean * 255).round() if self.pad_fill == "mean" else 0.0
        for i, size in enumerate(sizes):
            sl = slice(i * self.batch_size, i * self.batch_size + size)
            idx = order[sl]
            x = self.images.index_select(0, idx)
            if self.crop_padding:
                x = random_crop(x, self.crop_padding, fill=fill, offsets=(dy[sl], dx[sl]))
            if self.flip:
                x = random_flip(x, flags=flips[sl])
            batch = (normalize(x, mean, std), self.labels.index_select(0, idx))
            yield (*batch, idx if self.ids is None else self.ids.to(device)[idx]) if self.with_index else batch

    def epoch_draws(self, sizes: list[int], gen: torch.Generator):
        """``(dy, dx, flip)`` for the whole epoch (``None`` where that augmentation is off), drawn
        up front on the CPU in batch order (crop offsets, then flip flags, per batch): the same
        numbers as drawing batch by batch, but moved to the device in one copy, since a blocking
        per-batch copy would make the host wait for the GPU on every step."""
        dys, dxs, flips = [], [], []
        for size in sizes:
            if self.crop_padding:
                dy, dx = crop_offsets(size, self.crop_padding, gen)
                dys.append(dy), dxs.append(dx)
            if self.flip:
                flips.append(flip_flags(size, gen))
        return tuple(torch.cat(d) if d else None for d in (dys, dxs, flips))


class IndexedLoader(SelfSampling):
    """Batches ``make(indices)`` over ``indices``, reshuffled every epoch from ``(seed, epoch)``.

    Lightning calls ``sampler.set_epoch(e)`` before every epoch, so the order follows the
    trainer's epoch (a resumed run draws what an uninterrupted one would); epochs count from
    ``epoch_offset`` (the epoch a boosted stage's pool was set). With ``weights`` (one per index,
    BTS-EE's ``soft`` survivors) a shuffled epoch instead draws as many indices, with replacement,
    in proportion to them: importance weighting by torch's own sampler (``torch.multinomial``). ``random``:
    ``make`` also takes the epoch's generator (augmentation draws that a resumed run repeats)."""

    def __init__(self, make: Callable, indices: torch.Tensor, batch_size: int, shuffle: bool = False,
                 seed: int = 0, epoch_offset: int = 0, weights: torch.Tensor | None = None, random: bool = False):
        self.make, self.indices, self.batch_size, self.random = make, indices, int(batch_size), random
        self.shuffle, self.seed, self.epoch_offset = shuffle, seed, epoch_offset
        self.weights = None if weights is None else weights.detach().float().cpu()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = max(0, epoch - self.epoch_offset)

    def __len__(self) -> int:
        return math.ceil(self.indices.numel() / self.batch_size)

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
        self.epoch += 1
        idx = self.indices
        if self.shuffle and self.weights is not None:
            idx = idx[torch.multinomial(self.weights, idx.numel(), replacement=True, generator=gen).to(idx.device)]
        elif self.shuffle:
            idx = idx[torch.randperm(idx.numel(), generator=gen).to(idx.device)]
        for i in range(len(self)):
            batch = idx[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.make(batch, gen) if self.random else self.make(batch)


class StreamLoader(SelfSampling):
    """Normalised (and, for training, randomly cropped and flipped) batches decoded by DataLoader
    workers; yields the same ``(x, y[, index])`` batches as the in-memory loader, and shards the
    same way under DDP (``shard_by``)."""

    def __init__(self, dataset: Dataset, batch_size: int, mean, std, train: bool, crop_padding: int,
                 flip: bool, seed: int, workers: int, with_index: bool, shard_by=None):
        self.dataset, self.batch_size, self.mean, self.std = dataset, batch_size, mean, std
        self.train, self.crop_padding, self.flip, self.seed = train, crop_padding, flip, seed
        self.workers, self.with_index, self.shard_by = workers, with_index, shard_by

    def __len__(self) -> int:
        n = shard_size(len(self.dataset), *trainer_shard(self.shard_by), equal=self.train)
        return n // self.batch_size if self.train and n > self.batch_size else -(-n // self.batch_size)

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        self.epoch += 1
        n = len(self.dataset)
        order = torch.randperm(n, generator=gen) if self.train else torch.arange(n)
        order = shard_order(order, *trainer_shard(self.shard_by), equal=self.train).tolist()
        loader = DataLoader(self.dataset, self.batch_size, sampler=order, num_workers=self.workers,
                            drop_last=self.train and len(order) > self.batch_size, persistent_workers=False)
        for x, y, idx in worker_batches(loader):   # a worker's refusal as its own one line
            if self.crop_padding:
                x = random_crop(x, self.crop_padding, gen)
            if self.flip:
                x = random_flip(x, gen)
            x = normalize(x, self.mean, self.std)
            yield (x, y, idx) if self.with_index else (x, y)
