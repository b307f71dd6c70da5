"""Base LightningDataModule for small-image classification held in memory as uint8.

Subclasses only read their official on-disk format into ``uint8 [N,3,H,W]`` + ``int64 [N]``
(CIFAR-sized sets fit easily: CINIC-10 is 0.83 GB as uint8; file-based sets too large for memory
stream instead, ``eexit/data/folders.py``); batching, augmentation, the fixed-seed validation
hold-out and device placement live here once. The image shape is read from the data, never assumed.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Sequence

import lightning as L
import torch

from eexit.config.arguments import check_arguments
from eexit.data.loader import TensorBatchLoader
from eexit.data.splits import Split, holdout, holdout_count, holdout_indices  # noqa: F401 - also imported from here

log = logging.getLogger(__name__)



class ImageDataModule(L.LightningDataModule):
    """Shared machinery; subclasses implement :meth:`read_splits`.

    Args:
        root: folder holding the dataset in its official format.
        batch_size: training batch size; ``eval_batch_size`` for val/test.
        val_size: samples held out of train (fixed seed) when the dataset has no
            validation split of its own, or a fraction of train (``0 < val_size < 1``).
        seed: seeds the hold-out split and the training order/augmentation.
        crop_padding: random-crop padding in pixels (0 disables).
        flip: random horizontal flip (``None`` = the dataset's default; off for digits).
        download: fetch the official archive when the data are missing.
        placement: ``cpu``, ``cuda`` or ``auto`` (device-resident when a GPU is
            present and the data fit).
        mean, std: per-channel normalisation (``null``: the dataset's own; a pretrained backbone
            substitutes the statistics its weights were trained with).
    """

    name = "base"
    num_classes = 10
    classes: Sequence[str] = tuple(str(i) for i in range(10))
    mean: Sequence[float] = (0.5, 0.5, 0.5)
    std: Sequence[float] = (0.25, 0.25, 0.25)
    default_flip = True
    calibration_share = 0.0   # a share of the validation split kept apart as "calibration" (selection=risk)

    def __init__(self, root: str = "data", batch_size: int = 128, eval_batch_size: int = 512,
                 val_size: int = 5000, seed: int = 0, crop_padding: int = 4, flip: bool | None = None,
                 download: bool = False, placement: str = "cpu", pad_fill: str = "zero",
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        check_arguments(self, **{k: v for k, v in locals().items() if k not in ("self", "root", "__class__")})
        if mean is not None or std is not None:
            self.use_normalization(mean or self.mean, std or self.std)
        self.root, self.batch_size, self.eval_batch_size = str(root), batch_size, eval_batch_size
        self.val_size, self.seed, self.crop_padding = val_size, seed, crop_padding
        self.flip = self.default_flip if flip is None else flip
        self.download, self.placement, self.pad_fill = download, placement, pad_fill
        self.splits: dict[str, Split] = {}
        self._fingerprint: str | None = None

    def read_splits(self) -> dict[str, Split]:
        """Return ``{"train": ..., "test": ...}`` and ``"val"`` where the dataset has one."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        splits = self.read_splits()
        if "val" not in splits:
            splits["train"], splits["val"] = holdout(splits["train"], self.val_size, self.seed)
        if self.calibration_share:   # before anything trains, calibrates or selects on val
            splits["val"], splits["calibration"] = holdout(splits["val"], float(self.calibration_share), self.seed + 1)
        if self.batch_size > (n := splits["train"][0].shape[0]):   # one partial batch an epoch otherwise: said
            log.info("%s: data.batch_size=%d exceeds the %d training images: capped", self.name, self.batch_size, n)
            self.batch_size = n
        device = self.resolve_device(splits)
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}
        sizes = ", ".join(f"{k} {v[0].shape[0]}" for k, v in self.splits.items())
        log.info("%s: %s images on %s", self.name, sizes, device)

    def resolve_device(self, splits: dict[str, Split]) -> torch.device:
        if self.placement == "cpu" or not torch.cuda.is_available():
            if self.placement == "cuda" and not torch.cuda.is_available():
                log.warning("data.placement=cuda but no GPU is present; keeping data on the CPU")
            return torch.device("cpu")
        if self.placement == "cuda":
            return torch.device("cuda")
        need = sum(x.numel() for x, _ in splits.values())
        free, _ = torch.cuda.mem_get_info()
        return torch.device("cuda" if need < 0.25 * free else "cpu")

    def use_normalization(self, mean: Sequence[float], std: Sequence[float]) -> None:   # not the data's own statistics
        check_arguments("ImageDataModule", mean=list(mean), std=list(std))
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)

    mean_t = property(lambda self: torch.tensor(self.mean, dtype=torch.float32))
    std_t = property(lambda self: torch.tensor(self.std, dtype=torch.float32))

    def loader(self, split: str, train: bool = False, batch_size: int | None = None,
               with_index: bool = False, indices: torch.Tensor | None = None, shard_by=None,
               augment: bool | None = None) -> TensorBatchLoader:
        """A batch iterable over ``split``; ``train=True`` shuffles and augments;
        ``with_index`` adds each sample's index in the split to its batch; ``indices`` serves
        only those samples, in that order (``with_index`` still gives their index in the split);
        ``shard_by``: the Trainer whose (DDP) processes share it; ``augment``: crop and flip
        (default: when ``train``)."""
        augment = train if augment is None else augment
        self.setup()
        x, y = self.splits[split]
        if indices is not None:
            x, y = x[indices], y[indices]
        return TensorBatchLoader(
            x, y, batch_size or (self.batch_size if train else self.eval_batch_size),
            self.mean_t, self.std_t, shuffle=train,
            crop_padding=self.crop_padding if augment else 0, flip=self.flip and augment,
            drop_last=train and x.shape[0] > self.batch_size, seed=self.seed, pad_fill=self.pad_fill,
            with_index=with_index, shard_by=shard_by, ids=indices)

    # Lightning's loops: under DDP each process reads its own shard (torchmetrics then reduce)
    def train_dataloader(self):
        return self.loader("train", train=True, with_index=True, shard_by=self.trainer)

    def val_dataloader(self):
        return self.loader("val", shard_by=self.trainer)

    def test_dataloader(self):
        return self.loader("test", shard_by=self.trainer)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of every image, from the data (setup first)."""
        self.setup()
        return tuple(self.splits["train"][0].shape[1:])

    def num_samples(self, split: str) -> int:
        self.setup()
        return int(self.splits[split][1].numel())

    def labels(self, split: str) -> torch.Tensor:
        self.setup()
        return self.splits[split][1]

    def planned_sizes(self) -> tuple[dict[str, int], tuple[int, ...], str]:
        """``({split: images}, (C, H, W), where the counts come from)`` for a plan made before any work: here
        from the data; CINIC-10 and synthetic count without decoding (and plan a download not yet made)."""
        return {s: self.num_samples(s) for s in ("train", "val", "test")}, tuple(self.image_shape), "the data"

    def check_present(self) -> None:
        """The one-line missing-data error, before a run checks its disk and memory; planning read the data here."""

    def present(self) -> bool:   # the data is on disk (False: a download not yet made, which reading would start)
        return True

    def fingerprint(self) -> str:
        """A digest of every split's images and labels: what a cached backbone or feature store
        was computed from. Two folders holding the same data share it; any changed pixel,
        label or split boundary changes it (about 1.5 GB/s, computed once per instance)."""
        if self._fingerprint is None:
            self.setup()
            h = hashlib.sha256()
            for name in sorted(self.splits):
                for t in self.splits[name]:
                    t = t.detach().cpu().contiguous()
                    h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
                    h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def describe(self) -> dict:
        """What determines the data a model sees (part of the backbone cache key)."""
        return {"name": self.name, "val_size": self.val_size, "seed": self.seed,
                "crop_padding": self.crop_padding, "flip": self.flip,
                "batch_size": self.batch_size, "pad_fill": self.pad_fill,
                "normalization": [list(self.mean), list(self.std)],   # the class's own statistics too: they change the inputs
                **({"calibration_share": self.calibration_share} if self.calibration_share else {})}
