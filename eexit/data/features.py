"""``FeatureDataModule``: a frozen backbone's features at the attach points, computed once.

A frozen backbone's maps never change, so they are computed once per split (unaugmented), stored
(``feature_store.py``) and served as :class:`FeatureBatch` es to every head of every job, reduced as the heads
reduce them (``input_reduction``). Training rows are kept in ``dtype`` (bfloat16: half the bytes); validation and
test in float32, as the deployed network computes them, so every reported exit decision is the one that ships
(bfloat16 test features moved 1 of 64 checked images on a 5,000-image digit set, issue 34). The training pool can
shrink between epochs (``set_train_pool``: BTS-EE's stages) and is checkpointed state. ``store=False`` serves
images and runs the backbone on each batch on the device (``on_after_batch_transfer``; same batches, the
backbone's cost every epoch); ``augment=True`` does so for training epochs only, on cropped and flipped images (as
SDN and ZTW train heads), while validation, test and BTS-EE's survivor decisions read the stored features.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import lightning as L
import torch

from eexit.errors import BadArgument, EExitError
from eexit.data.augment import augmented, normalize
from eexit.data.extract import MemorySink, extract, features_of
from eexit.data.feature_batch import FeatureBatch
from eexit.data.feature_store import FeatureStore, block_name, split_dtype, store_key
from eexit.data.loader import IndexedLoader
from eexit.distributed import is_global_zero

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


class FeatureDataModule(L.LightningDataModule):
    """Args:
        images: the image DataModule (its eval loaders, without augmentation, feed the backbone).
        net: the early-exit network whose heads read the features: its frozen backbone (on the device to
            extract on), its attach points, and per head the ``(h, w)`` the head average-pools its input to first
            (``input_reduction``; absent: the full map is kept).
        cache_dir: where the feature store lives (``None``: keep features in memory only).
        dtype: the training split's storage dtype, ``bfloat16`` (default, on every device) or ``float32``;
            validation and test are float32 whatever it is (``split_dtype``).
        batch_size, eval_batch_size: training and evaluation batch sizes. seed: the training order's.
        store: False runs the backbone on every batch instead: what a dataset too large to hold its features
            (ImageNet) needs; a streamed one is read through its own DataLoader workers, unaugmented.
        placement: ``auto`` (GPU when present and the features take < half its free memory) | cpu | cuda.
        augment: training batches are the image DataModule's cropped and flipped images, through the backbone.
    """

    def __init__(self, images, net, cache_dir=None, dtype: str = "bfloat16", batch_size: int = 128, eval_batch_size: int = 1024,
                 seed: int = 0, store: bool = True, placement: str = "auto", augment: bool = False):
        super().__init__()
        self.images, self.backbone, self.attach = images, net.backbone, list(net.attach)
        self.reductions = [None if r is None else tuple(r) for r in (getattr(h, "input_reduction", None)
                                                                     for h in net.heads)]
        self.names = [block_name(b, r) for b, r in zip(self.attach, self.reductions)]
        self.cache_dir, self.batch_size, self.eval_batch_size = cache_dir, int(batch_size), int(eval_batch_size)
        self.seed, self.store, self.placement, self.augment = seed, store, placement, bool(augment)
        if dtype not in ("bfloat16", "float32"):
            raise BadArgument("FeatureDataModule", "dtype", dtype, "bfloat16 or float32")
        self.dtype = getattr(torch, dtype)
        self.data: dict[str, FeatureBatch] = {}   # store=False: unused, batches come from self.images
        self.extracted: list[str] = []            # "<split>/<name>" computed by this instance (not loaded)
        # the training pool (None: every sample), the epoch it was set, the attach positions training reads (None:
        # all) and, per training sample, how often it is drawn (None: once each); set_train_pool sets them
        self.set_train_pool(None, 0)

    # -- building ---------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.data:
            return
        self.images.setup()
        if not self.store:
            return
        start = time.perf_counter()
        for split in SPLITS:
            self.data[split] = self._split(split)
        log.info("features: %s samples at blocks %s ready in %.1f s",
                     "/".join(str(len(self.data[s].labels)) for s in SPLITS), self.attach, time.perf_counter() - start)

    def _split(self, split: str) -> FeatureBatch:
        names = self.names + ["final", "labels"]
        rows, dtype = self.images.num_samples(split), split_dtype(split, self.dtype)
        if self.cache_dir is None:
            got = self._extract(split, names, {n: MemorySink() for n in names})
        else:   # keyed by the split's dtype: a bfloat16 and a float32 job share their validation and test files
            store = FeatureStore(self.cache_dir, store_key(self.backbone, self.images, dtype), dtype)
            got = store.get(split, names, rows)
            if len(got) < len(names) and not is_global_zero():   # a DDP copy: computes, never stores
                missing = [n for n in names if n not in got]
                got.update(self._extract(split, missing, {n: MemorySink() for n in missing}))
            elif len(got) < len(names):
                with store.lock(split):   # another process may have built them meanwhile
                    got = store.get(split, names, rows)
                    missing = [n for n in names if n not in got]
                    if missing:
                        self._extract(split, missing, store.writers(split, missing, rows))
                        got.update(store.get(split, missing, rows))
        device = self._device(got)
        return FeatureBatch([got[n].to(device) for n in self.names], got["final"].to(device),
                            got["labels"].to(device), torch.arange(rows, device=device))

    def _extract(self, split: str, names: list[str], sinks: dict) -> dict[str, torch.Tensor]:
        wanted = {n: (b, r) for n, b, r in zip(self.names, self.attach, self.reductions) if n in names}
        got = extract(self.backbone, self.images.loader(split), wanted, split_dtype(split, self.dtype), sinks, split)
        self.extracted += [f"{split}/{n}" for n in names]
        return got

    def _device(self, tensors: dict[str, torch.Tensor]) -> torch.device:
        if self.placement == "cpu" or not torch.cuda.is_available():
            return torch.device("cpu")
        need = sum(t.numel() * t.element_size() for t in tensors.values())
        return torch.device("cuda" if self.placement == "cuda" or need < 0.5 * torch.cuda.mem_get_info()[0] else "cpu")

    # -- serving ----------------------------------------------------------------------------
    def _labels(self, split: str) -> torch.Tensor:
        self.setup()
        return self.data[split].labels if self.store else self.images.labels(split)

    def num_samples(self, split: str) -> int:
        return len(self._labels(split))

    def _make(self, split: str, blocks: list[int] | None, augment: bool = False) -> Callable[..., object]:
        if augment:
            im = self.images
            return augmented(*im.splits[split], im.crop_padding, im.flip, im.pad_fill, im.mean_t, im.std_t)
        if not self.store:
            (x, y), mean, std = self.images.splits[split], self.images.mean_t, self.images.std_t
            return lambda b: (normalize(x.index_select(0, b), mean, std), y[b], b)
        d = self.data[split]
        keep = range(len(d.feats)) if blocks is None else blocks
        return lambda b: FeatureBatch([f.index_select(0, b).float() if i in keep else None for i, f in enumerate(d.feats)],
                                      d.final[b], d.labels[b], b)

    def loader(self, split: str, indices: torch.Tensor | None = None, shuffle: bool = False,
               batch_size: int | None = None, epoch_offset: int = 0, blocks: list[int] | None = None,
               weights: torch.Tensor | None = None) -> IndexedLoader:
        """Batches of ``split`` (all samples, or ``indices``), in order unless ``shuffle``; ``blocks``:
        the attach positions to gather features of (the others are ``None``; default all); ``weights``
        (one per index): a shuffled epoch draws indices in proportion to them."""
        augment = self.augment and split == "train" and shuffle   # training epochs only
        if (augment or not self.store) and getattr(self.images, "streaming", False):
            if weights is not None:   # files are read by a DataLoader once each: no weighted draws
                raise EExitError("the soft survivor rule needs the samples in memory or stored features; a streamed "
                                 "dataset without a store takes rate_matched or cross_fit")
            return self.images.loader(split, train=shuffle, augment=augment, with_index=True, indices=indices,
                                      batch_size=batch_size or self.eval_batch_size)
        labels = self._labels(split)
        idx = torch.arange(len(labels), device=labels.device) if indices is None else indices.to(labels.device)
        return IndexedLoader(self._make(split, blocks, augment), idx, batch_size or self.eval_batch_size, shuffle,
                             self.seed, epoch_offset, weights, random=augment)

    def set_train_pool(self, indices: torch.Tensor | None, since_epoch: int, blocks: list[int] | None = None,
                       weights: torch.Tensor | None = None) -> None:
        """Serve only ``indices`` of the training split (drawn by ``weights``, one per sample of the split,
        when given), and the features of ``blocks``, from epoch ``since_epoch`` on."""
        self.train_pool, self.pool_since = (None if indices is None else indices.cpu()), int(since_epoch)
        self.train_blocks = None if blocks is None else list(blocks)
        self.train_weights = None if weights is None else weights.cpu()

    def train_dataloader(self):
        weights = self.train_weights
        if weights is not None and self.train_pool is not None:
            weights = weights[self.train_pool]
        return self.loader("train", self.train_pool, shuffle=True, batch_size=self.batch_size,
                           epoch_offset=self.pool_since, blocks=self.train_blocks, weights=weights)

    def val_dataloader(self):   # validation during a fit reads the trained heads' blocks only
        return self.loader("val", blocks=self.train_blocks)

    def test_dataloader(self):
        return self.loader("test")

    def predict_dataloader(self):   # every exit's outputs on validation (calibration) and test (reporting)
        return [self.loader("val"), self.loader("test")]

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        """Feature batches move tensor by tensor (Lightning's generic walk through the named
        tuple costs about a millisecond a batch, a visible share of a head's training step)."""
        if isinstance(batch, FeatureBatch):
            return FeatureBatch([None if f is None else f.to(device) for f in batch.feats], batch.final.to(device),
                                batch.labels.to(device), batch.idx.to(device))
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        """An image batch (``store=False``, ``augment``): the frozen backbone's features of it, on the device, under
        the Trainer's precision (as stored ones, reduced as the heads reduce, but not rounded to the storage dtype)."""
        if isinstance(batch, FeatureBatch):
            return batch
        x, labels, idx = batch
        with self.trainer.strategy.precision_plugin.forward_context():
            feats, final = features_of(self.backbone, x, self.attach, self.reductions)
        return FeatureBatch([f.float() for f in feats], final.float(), labels, idx)

    def state_dict(self) -> dict:
        return {"train_pool": self.train_pool, "pool_since": self.pool_since, "train_blocks": self.train_blocks,
                "train_weights": self.train_weights}

    def load_state_dict(self, state: dict) -> None:
        self.set_train_pool(state["train_pool"], state["pool_since"], state["train_blocks"], state.get("train_weights"))
