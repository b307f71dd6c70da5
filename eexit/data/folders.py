"""Image datasets stored as files: any class-per-folder tree, Tiny-ImageNet, ImageNet.

Listing uses torchvision's readers (``ImageFolder``, ``ImageNet``); decoding uses
``torchvision.io.decode_image`` and the v2 functional resize/crop, in DataLoader workers.
Two storages, chosen by ``storage``:

- ``memory``: every image decoded once, resized to ``image_size``, held as uint8 (the fast
  path of :class:`ImageDataModule`: device-resident on a GPU, no per-sample Python work);
- ``stream``: images decoded per batch by ``num_workers`` DataLoader workers (ImageNet-sized sets);
- ``auto`` (default): memory when the decoded uint8 splits stay under ``memory_limit_gb``.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Sequence

import torch
import torchvision.datasets as tvd
from torch.utils.data import DataLoader, Dataset
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF
from tqdm import tqdm

from eexit.data.augment import random_crop, random_flip
from eexit.data.base import ImageDataModule
from eexit.data.download import missing
from eexit.errors import DatasetNotFoundError, EExitError

log = logging.getLogger(__name__)

Samples = list[tuple[str, int]]


def pair(size) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, (int, float)) else (int(size[0]), int(size[1]))


class DecodedImages(Dataset):
    """``(uint8 [3,H,W], label, index)`` per file: decoded as RGB, shorter side resized to
    ``resize`` (when given), then centre-cropped to ``image_size``."""

    def __init__(self, samples: Samples, image_size, resize: int | None):
        self.samples, self.size, self.resize = samples, pair(image_size), resize

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        try:
            img = decode_image(path, mode=ImageReadMode.RGB)
        except Exception as exc:
            raise EExitError(f"{path} is not a readable image ({type(exc).__name__}); replace or remove it") from None
        if self.resize:
            img = TF.resize(img, self.resize, antialias=True)
        if tuple(img.shape[-2:]) != self.size:
            if not self.resize and (img.shape[-2] < self.size[0] or img.shape[-1] < self.size[1]):
                img = TF.resize(img, list(self.size), antialias=True)
            img = TF.center_crop(img, list(self.size))
        return img, label, i


def decode_all(samples: Samples, image_size, resize: int | None, workers: int, what: str):
    """Every image of ``samples`` as one uint8 tensor, decoded by ``workers`` processes."""
    h, w = pair(image_size)
    x = torch.empty(len(samples), 3, h, w, dtype=torch.uint8)
    loader = DataLoader(DecodedImages(samples, image_size, resize), batch_size=256, num_workers=workers)
    for img, _, idx in tqdm(loader, desc=f"decoding {what}", leave=False, disable=len(samples) < 5000):
        x[idx] = img
    return x, torch.tensor([c for _, c in samples], dtype=torch.int64)


def class_folder(folder: Path, dataset: str) -> tvd.ImageFolder:
    """``torchvision.datasets.ImageFolder`` over ``folder``, its failures as one line."""
    if not folder.is_dir():
        raise missing(dataset, folder, "a folder with one subfolder of images per class")
    try:
        return tvd.ImageFolder(str(folder), allow_empty=False)
    except (FileNotFoundError, RuntimeError) as exc:
        raise EExitError(f"{folder}: {str(exc).splitlines()[0]}; it needs one subfolder of images per class "
                         f"(<class>/<image>.png or .jpg)") from None


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
        if storage not in ("auto", "memory", "stream"):
            raise EExitError(f"data.storage={storage} is not one of auto, memory, stream")
        self.image_size, self.resize, self.storage = list(pair(image_size)), resize, storage
        self.num_workers, self.memory_limit_gb = num_workers, memory_limit_gb
        self.samples: dict[str, Samples] = {}

    def list_samples(self) -> dict[str, Samples]:
        """``{"train": [(path, class)], "test": ..., "val" where the dataset has one}``; sets ``classes``."""
        raise NotImplementedError

    @property
    def num_classes(self) -> int:   # type: ignore[override]
        return len(self.classes)

    def resolved_storage(self, samples: dict[str, Samples]) -> str:
        if self.storage != "auto":
            return self.storage
        n = sum(len(s) for s in samples.values())
        return "memory" if n * 3 * self.image_size[0] * self.image_size[1] < self.memory_limit_gb * 2 ** 30 else "stream"

    def read_splits(self):
        samples = self.samples or self.list_samples()
        return {k: decode_all(v, self.image_size, self.resize, self.num_workers, f"{self.name} {k}")
                for k, v in samples.items()}

    def setup(self, stage: str | None = None) -> None:
        if self.splits or self.samples:
            return
        samples = self.list_samples()
        if self.resolved_storage(samples) == "memory":
            self.samples = samples
            super().setup(stage)
            self.samples = {}
            return
        if "val" not in samples:
            n = len(samples["train"])
            if not 0 < self.val_size < n:
                raise ValueError(f"val_size={self.val_size} must be between 1 and {n - 1} (the train split size)")
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
            val, rest = perm[:self.val_size].sort().values, perm[self.val_size:].sort().values
            train = samples["train"]
            samples["train"], samples["val"] = [train[i] for i in rest], [train[i] for i in val]
        self.samples = samples
        log.info("%s: %s images streamed from disk", self.name, ", ".join(f"{k} {len(v)}" for k, v in samples.items()))

    @property
    def streaming(self) -> bool:
        self.setup()
        return bool(self.samples)

    def loader(self, split: str, train: bool = False, batch_size: int | None = None,
               with_index: bool = False, indices: torch.Tensor | None = None):
        if not self.streaming:
            return super().loader(split, train, batch_size, with_index, indices)
        samples = self.samples[split]
        if indices is not None:
            samples = [samples[i] for i in indices.tolist()]
        return StreamLoader(DecodedImages(samples, self.image_size, self.resize), batch_size or (
            self.batch_size if train else self.eval_batch_size), self.mean_t, self.std_t, train,
            self.crop_padding if train else 0,
            self.flip and train, self.seed, self.num_workers, with_index)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return (3, *self.image_size)

    def num_samples(self, split: str) -> int:
        return len(self.samples[split]) if self.streaming else super().num_samples(split)

    def fingerprint(self) -> str:
        """In memory: the pixels' digest. Streamed: a digest of every file's path, size, mtime and
        label (reading every pixel of ImageNet per run would cost minutes)."""
        if not self.streaming:
            return super().fingerprint()
        if self._fingerprint is None:
            h = hashlib.sha256(str(self.image_size).encode())
            for split in sorted(self.samples):
                for path, label in self.samples[split]:
                    st = os.stat(path)
                    h.update(f"{split}|{path}|{st.st_size}|{st.st_mtime_ns}|{label}\n".encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def describe(self) -> dict:
        return {**super().describe(), "image_size": self.image_size, "resize": self.resize}


class StreamLoader:
    """Normalised (and, for training, randomly cropped and flipped) batches decoded by DataLoader
    workers; yields the same ``(x, y[, index])`` batches as the in-memory loader."""

    def __init__(self, dataset: DecodedImages, batch_size: int, mean, std, train: bool, crop_padding: int,
                 flip: bool, seed: int, workers: int, with_index: bool):
        self.dataset, self.batch_size, self.mean, self.std = dataset, batch_size, mean.view(3, 1, 1), std.view(3, 1, 1)
        self.train, self.crop_padding, self.flip, self.seed = train, crop_padding, flip, seed
        self.workers, self.with_index, self.epoch = workers, with_index, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.train and n > self.batch_size else -(-n // self.batch_size)

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        self.epoch += 1
        loader = DataLoader(self.dataset, self.batch_size, shuffle=self.train, generator=gen,
                            drop_last=self.train and len(self.dataset) > self.batch_size,
                            num_workers=self.workers, persistent_workers=False)
        for x, y, idx in loader:
            if self.crop_padding:
                x = random_crop(x, self.crop_padding, gen)
            if self.flip:
                x = random_flip(x, gen)
            x = (x.float() / 255 - self.mean) / self.std
            yield (x, y, idx) if self.with_index else (x, y)


SPLIT_FOLDERS = {"train": "train", "val": "val", "test": "test"}


class ImageFolderDataModule(FileImageDataModule):
    """Any ``<root>/<split>/<class>/<image>`` tree (``train``/``val``/``test`` folder names
    configurable; a missing ``val`` is a fixed-seed hold-out of train), or one folder of class
    folders split into test and val by a fixed seed (``split_folders: null``)."""

    name = "imagefolder"

    def __init__(self, *args, split_folders: dict | None = SPLIT_FOLDERS, test_size: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.split_folders = dict(split_folders) if split_folders else None
        self.test_size = test_size

    def list_samples(self):
        root = Path(self.root)
        if not self.split_folders:
            all_ = class_folder(root, "image folder")
            self.classes = tuple(all_.classes)
            if not self.test_size or not 0 < self.test_size < len(all_.samples):
                raise EExitError(f"data.test_size={self.test_size} must be between 1 and {len(all_.samples) - 1} "
                                 f"to split the single folder {root} into train and test")
            perm = torch.randperm(len(all_.samples), generator=torch.Generator().manual_seed(12345))
            test, rest = perm[:self.test_size].sort().values, perm[self.test_size:].sort().values
            return {"train": [all_.samples[i] for i in rest], "test": [all_.samples[i] for i in test]}
        out, classes = {}, {}
        for split, sub in self.split_folders.items():
            if sub is None or (split == "val" and not (root / sub).exists()):
                continue
            ds = class_folder(root / sub, "image folder")
            out[split], classes[split] = ds.samples, ds.classes
        for split in ("train", "test"):
            if split not in out:
                raise missing("image folder", root / str(self.split_folders.get(split)), f"the {split} split")
        for split, names in classes.items():
            if names != classes["train"]:
                extra = sorted(set(names) ^ set(classes["train"]))
                raise EExitError(f"{root}: {split} has other classes than train ({', '.join(extra[:5])}); every "
                                 f"split needs the same class folders")
        self.classes = tuple(classes["train"])
        return out

    def describe(self):
        return {**super().describe(), "root": str(Path(self.root).resolve()), "split_folders": self.split_folders,
                "test_size": self.test_size}


class TinyImageNetDataModule(FileImageDataModule):
    """The official ``tiny-imagenet-200`` layout: ``wnids.txt``, ``train/<wnid>/images/*.JPEG``,
    ``val/images`` labelled by ``val/val_annotations.txt``. Its labelled ``val`` is our test split
    (the official test labels are not public); validation is a fixed-seed hold-out of train."""

    name = "tinyimagenet"
    mean = (0.4802, 0.4481, 0.3975)
    std = (0.2770, 0.2691, 0.2821)

    def __init__(self, *args, image_size=64, **kwargs):
        super().__init__(*args, image_size=image_size, **kwargs)

    def list_samples(self):
        root = Path(self.root)
        folder = root / "tiny-imagenet-200" if (root / "tiny-imagenet-200").is_dir() else root
        wnids_file, notes = folder / "wnids.txt", folder / "val" / "val_annotations.txt"
        if not wnids_file.is_file() or not notes.is_file():
            raise missing("Tiny-ImageNet", folder, "wnids.txt, train/<wnid>/images and val/val_annotations.txt")
        wnids = [w.strip() for w in wnids_file.read_text().split() if w.strip()]
        self.classes, index = tuple(wnids), {w: i for i, w in enumerate(wnids)}
        train = []
        for w in wnids:
            files = sorted((folder / "train" / w / "images").glob("*.JPEG"))
            if not files:
                raise EExitError(f"{folder / 'train' / w / 'images'} holds no .JPEG images; every class of "
                                 f"wnids.txt needs its training images")
            train += [(str(p), index[w]) for p in files]
        test = []
        for line_no, line in enumerate(notes.read_text().splitlines(), 1):
            parts = line.split("\t")
            if len(parts) < 2 or parts[1] not in index:
                raise EExitError(f"{notes}:{line_no} is not '<file>\\t<wnid>...' with a wnid of wnids.txt")
            test.append((str(folder / "val" / "images" / parts[0]), index[parts[1]]))
        return {"train": train, "test": test}


class ImageNetDataModule(FileImageDataModule):
    """ILSVRC-2012 in the layout ``torchvision.datasets.ImageNet`` reads (``meta.bin`` or the devkit
    archive, ``train/<wnid>/``, ``val/<wnid>/``; torchvision unpacks the official archives on first
    use). The official val is our test split; validation is a fixed-seed hold-out of train."""

    name = "imagenet"
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)
    default_flip = True

    def __init__(self, *args, image_size=224, resize: int | None = 256, **kwargs):
        kwargs.setdefault("val_size", 10000)
        kwargs.setdefault("crop_padding", 0)
        kwargs.setdefault("storage", "stream")
        super().__init__(*args, image_size=image_size, resize=resize, **kwargs)

    def list_samples(self):
        out = {}
        for split, official in (("train", "train"), ("test", "val")):
            try:
                ds = tvd.ImageNet(self.root, split=official)
            except (RuntimeError, FileNotFoundError) as exc:
                raise DatasetNotFoundError(
                    f"ImageNet in {self.root}: {str(exc).splitlines()[0]}; put ILSVRC2012_devkit_t12.tar.gz and "
                    f"ILSVRC2012_img_{official}.tar (or the unpacked {official}/<wnid>/ folders) there") from None
            out[split] = ds.samples
            self.classes = tuple(ds.wnids)
        return out
