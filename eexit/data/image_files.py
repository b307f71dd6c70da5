"""Datasets of image files: decoded into memory, or streamed from disk.

Decoding uses ``torchvision.io.decode_image`` and the v2 functional resize/crop, in DataLoader
workers. Two storages, chosen by ``storage``:

- ``memory``: every image decoded once, resized to ``image_size``, held as uint8 (the fast
  path of :class:`ImageDataModule`: device-resident on a GPU, no per-sample Python work);
- ``stream``: images decoded per batch by ``num_workers`` DataLoader workers (ImageNet-sized sets);
- ``auto`` (default): memory when the decoded uint8 splits stay under ``memory_limit_gb``.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Sequence

import torch

from eexit.config.arguments import check_arguments
from eexit.data.base import ImageDataModule, holdout_indices
from eexit.data.decoded import decoded_once, files_stamp
from eexit.data.image_decoding import DecodedImages, Samples, decode_all, pair
from eexit.data.loader import StreamLoader
from eexit.errors import EExitError

log = logging.getLogger(__name__)

class FileImageDataModule(ImageDataModule):
    """Shared by datasets of image files; subclasses implement :meth:`list_samples`.

    Args beyond :class:`ImageDataModule`:
        image_size: ``(H, W)`` or one int: every image is centre-cropped (or resized) to it.
        resize: resize the shorter side to this first (e.g. 256 before a 224 crop); ``null`` keeps it.
        storage: ``auto``, ``memory`` or ``stream``.
        num_workers: decoding processes.
        memory_limit_gb: ``auto`` keeps the data in memory below this size.
    """

    classes: Sequence[str] = ()

    def __init__(self, *args, image_size=64, resize: int | None = None, storage: str = "auto",
                 num_workers: int = 2, memory_limit_gb: float = 4.0, **kwargs):
        super().__init__(*args, **kwargs)
        check_arguments(self, image_size=image_size, resize=resize, storage=storage, num_workers=num_workers,
                        memory_limit_gb=memory_limit_gb)
        self._image_size = None if image_size is None else list(pair(image_size))
        self.resize, self.storage = resize, storage
        self.num_workers, self.memory_limit_gb = num_workers, memory_limit_gb
        self.samples: dict[str, Samples] = {}   # streamed splits (empty: the data is in memory)
        self._listed: dict[str, Samples] = {}   # what setup listed, for read_splits to decode

    def list_samples(self) -> dict[str, Samples]:
        """``{"train": [(path, class)], "test": ..., "val" where the dataset has one}``; sets ``classes``."""
        raise NotImplementedError

    @property
    def image_size(self) -> list[int]:
        """``[H, W]`` every image is brought to: ``data.image_size``, or (``null``) the size of the first
        training image (``data.resize`` when set), so 32-pixel images are never silently up-scaled."""
        if self._image_size is None and self.resize:
            self._image_size = [int(self.resize)] * 2
        if self._image_size is None:
            from PIL import Image
            first = (self.samples or self._listed or self.list_samples())["train"][0][0]
            try:
                with Image.open(first) as img:
                    self._image_size = [img.size[1], img.size[0]]   # the header only
            except OSError as exc:   # PIL's UnidentifiedImageError too
                raise EExitError(f"{first} is not a readable image ({type(exc).__name__}); replace or remove it") from None
            log.info("%s: images kept at their own size %dx%d (data.image_size sets another)", self.name,
                     *self._image_size)
        return self._image_size

    @property
    def num_classes(self) -> int:   # type: ignore[override]
        return len(self.classes)

    def resolved_storage(self, samples: dict[str, Samples]) -> str:
        if self.storage != "auto":
            return self.storage
        n = sum(len(s) for s in samples.values())
        return "memory" if n * 3 * self.image_size[0] * self.image_size[1] < self.memory_limit_gb * 2 ** 30 else "stream"

    def read_splits(self):
        """Every split decoded once into uint8 and kept beside the data (``eexit.data.decoded``)."""
        samples = self._listed or self.list_samples()
        out = {}
        for k, v in samples.items():
            settings = f"{self.image_size}|{self.resize}|{[c for _, c in v]}"
            cache = Path(self.root) / f".decoded-{self.name}-{k}-{self.image_size[0]}x{self.image_size[1]}.pt"
            out[k] = decoded_once(cache, files_stamp((p for p, _ in v), settings),
                                  lambda v=v, k=k: decode_all(v, self.image_size, self.resize, self.num_workers,
                                                              f"{self.name} {k}"))
        return out

    def setup(self, stage: str | None = None) -> None:
        if self.splits or self.samples:
            return
        samples = self.list_samples()
        if self.resolved_storage(samples) == "memory":
            self._listed = samples
            super().setup(stage)
            return
        if "val" not in samples:   # the same hold-out as the in-memory path's
            train = samples["train"]
            rest, val = holdout_indices(len(train), self.val_size, self.seed)
            samples["train"], samples["val"] = [train[i] for i in rest], [train[i] for i in val]
        if self.calibration_share:   # the same calibration hold-out as the in-memory path's
            val = samples["val"]
            rest, cal = holdout_indices(len(val), float(self.calibration_share), self.seed + 1)
            samples["val"], samples["calibration"] = [val[i] for i in rest], [val[i] for i in cal]
        self.samples = samples
        log.info("%s: %s images streamed from disk", self.name, ", ".join(f"{k} {len(v)}" for k, v in samples.items()))

    @property
    def streaming(self) -> bool:
        self.setup()
        return bool(self.samples)

    def loader(self, split: str, train: bool = False, batch_size: int | None = None,
               with_index: bool = False, indices: torch.Tensor | None = None, shard_by=None,
               augment: bool | None = None):
        if not self.streaming:
            return super().loader(split, train, batch_size, with_index, indices, shard_by, augment)
        augment = train if augment is None else augment
        samples, ids = self.samples[split], None
        if indices is not None:
            samples, ids = [samples[i] for i in indices.tolist()], indices.tolist()
        return StreamLoader(DecodedImages(samples, self.image_size, self.resize, ids), batch_size or (
            self.batch_size if train else self.eval_batch_size), self.mean_t, self.std_t, train,
            self.crop_padding if augment else 0,
            self.flip and augment, self.seed, self.num_workers, with_index, shard_by)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return (3, *self.image_size)

    def num_samples(self, split: str) -> int:
        return len(self.samples[split]) if self.streaming else super().num_samples(split)

    def labels(self, split: str) -> torch.Tensor:
        if not self.streaming:
            return super().labels(split)
        return torch.tensor([c for _, c in self.samples[split]], dtype=torch.int64)

    def fingerprint(self) -> str:
        """In memory: the pixels' digest. Streamed: a digest of every file's path, size, mtime and
        label (reading every pixel of ImageNet per run would cost minutes)."""
        if not self.streaming:
            return super().fingerprint()
        if self._fingerprint is None:
            stamps = [files_stamp((p for p, _ in v), f"{k}|{self.image_size}|{[c for _, c in v]}")
                      for k, v in sorted(self.samples.items())]
            self._fingerprint = hashlib.sha256("|".join(stamps).encode()).hexdigest()
        return self._fingerprint

    def describe(self) -> dict:
        return {**super().describe(), "image_size": self.image_size, "resize": self.resize}



