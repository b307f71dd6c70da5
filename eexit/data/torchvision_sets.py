"""CIFAR-10, CIFAR-100, SVHN and MNIST, read by torchvision's own readers from their official files.

torchvision knows each format (pickled CIFAR batches, SVHN ``.mat``, MNIST idx) and verifies every
file's md5 before reading it; these modules only turn its arrays into ``uint8 [N,3,H,W]`` and
its refusals into one line naming the damaged file and the fix. Layout under ``data.root``:
``cifar-10-batches-py/``, ``cifar-100-python/``, ``train_32x32.mat``/``test_32x32.mat``,
``MNIST/raw/*-ubyte`` (torchvision's own layout; ``data.download=true`` creates it).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torchvision.datasets as tvd
from torchvision.datasets.utils import check_integrity

from eexit.data.base import ImageDataModule
from eexit.data.download import missing
from eexit.errors import DatasetNotFoundError, KeyedError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def as_uint8(images, labels, layout: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` in ``NHWC``, ``NCHW`` or ``NHW`` (grey, repeated to 3 channels) -> uint8 [N,3,H,W]."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.uint8)
    if layout == "NHWC":
        x = x.permute(0, 3, 1, 2)
    elif layout == "NHW":
        x = x.unsqueeze(1).expand(-1, 3, -1, -1)
    return x.contiguous(), torch.as_tensor(np.asarray(labels), dtype=torch.int64)


class TorchvisionDataModule(ImageDataModule):
    """Subclasses set ``reader`` (a ``torchvision.datasets`` class), ``layout``, and
    :meth:`files` (the official files with their md5, relative to ``root``)."""

    reader: type
    layout = "NHWC"
    title = "dataset"

    def files(self) -> list[tuple[str, str | None]]:
        raise NotImplementedError

    def split_args(self) -> dict[str, dict]:
        return {"train": {"train": True}, "test": {"train": False}}

    def check_files(self) -> None:
        """Every official file present and intact, or one line naming the first that is not."""
        root = Path(self.root)
        absent = [name for name, _ in self.files() if not (root / name).is_file()]
        if absent and not self.download:
            raise missing(self.title, root, ", ".join(absent[:3]) + (" ..." if len(absent) > 3 else ""))
        for name, md5 in ([] if absent else self.files()):
            if md5 and not check_integrity(str(root / name), md5):
                raise KeyedError(f"{root / name} is damaged (its md5 is not the official {md5}); delete it and "
                                 f"fetch the official archive again ({{key}}download=true)")

    def read_splits(self):
        self.check_files()
        out = {}
        for split, kwargs in self.split_args().items():
            try:
                ds = self.reader(self.root, download=self.download, **kwargs)
            except RuntimeError as exc:   # torchvision's "not found or corrupted", or a failed download
                raise DatasetNotFoundError(f"{self.title} in {self.root}: {str(exc).splitlines()[0]}; put the "
                                           f"official files there or add {{key}}download=true") from None
            labels = getattr(ds, "targets", None)
            out[split] = as_uint8(ds.data, ds.labels if labels is None else labels, self.layout)
        return out


class CIFAR10DataModule(TorchvisionDataModule):
    """CIFAR-10 from the official python batches (``<root>/cifar-10-batches-py``)."""

    name, title, reader = "cifar10", "CIFAR-10", tvd.CIFAR10
    classes = CIFAR10_CLASSES
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)

    def files(self):
        return [(f"{self.reader.base_folder}/{n}", md5) for n, md5 in self.reader.train_list + self.reader.test_list]


class CIFAR100DataModule(CIFAR10DataModule):
    """CIFAR-100 (fine labels) from the official python pickles (``<root>/cifar-100-python``)."""

    name, title, reader = "cifar100", "CIFAR-100", tvd.CIFAR100
    num_classes = 100
    classes = tuple(str(i) for i in range(100))   # the names are in the dataset's ``meta`` file
    mean = (0.5071, 0.4865, 0.4409)
    std = (0.2673, 0.2564, 0.2762)


class SVHNDataModule(TorchvisionDataModule):
    """SVHN from the official ``.mat`` files (torchvision maps label 10 to digit 0).
    ``use_extra`` appends the 531k 'extra' images to train."""

    name, title, reader, layout = "svhn", "SVHN", tvd.SVHN, "NCHW"
    mean = (0.4377, 0.4438, 0.4728)
    std = (0.1980, 0.2010, 0.1970)
    default_flip = False  # digits are not mirror-symmetric

    def __init__(self, *args, use_extra: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.use_extra = use_extra

    def wanted(self) -> list[str]:
        return ["train", "test"] + (["extra"] if self.use_extra else [])

    def files(self):
        return [tuple(self.reader.split_list[s][1:]) for s in self.wanted()]

    def split_args(self):
        return {s: {"split": s} for s in self.wanted()}

    def read_splits(self):
        out = super().read_splits()
        if "extra" in out:
            extra = out.pop("extra")
            out["train"] = (torch.cat([out["train"][0], extra[0]]), torch.cat([out["train"][1], extra[1]]))
        return out

    def describe(self):
        return {**super().describe(), "use_extra": self.use_extra}


class MNISTDataModule(TorchvisionDataModule):
    """MNIST from the official idx files in torchvision's layout (``<root>/MNIST/raw/*-ubyte``);
    28x28 grey, repeated to 3 channels so any RGB backbone runs on it."""

    name, title, reader, layout = "mnist", "MNIST", tvd.MNIST, "NHW"
    mean = (0.1307, 0.1307, 0.1307)
    std = (0.3081, 0.3081, 0.3081)
    default_flip = False

    def files(self):   # torchvision checks these unpacked files for presence only
        return [(os.path.join("MNIST", "raw", os.path.splitext(os.path.basename(url))[0]), None)
                for url, _ in self.reader.resources]
