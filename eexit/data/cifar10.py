"""CIFAR-10 from the official python batches (``cifar-10-batches-py/``)."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from eexit.data.base import ImageDataModule
from eexit.data.download import fetch, missing
from eexit.errors import EExitError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> uint8 [N,3,32,32] (rows are 1024 R, 1024 G, 1024 B) and labels.
    A truncated or foreign file fails with one line naming it and the fix."""
    fix = "delete the folder and fetch the official archive again (data.download=true)"
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except Exception as exc:   # truncated download, or not a pickle
        raise EExitError(f"{path} is not a readable CIFAR batch ({type(exc).__name__}); {fix}") from None
    if not isinstance(entry, dict) or "data" not in entry:
        raise EExitError(f"{path} holds no 'data' array; {fix}")
    labels = entry.get("labels", entry.get("fine_labels"))
    if labels is None:
        raise EExitError(f"{path} holds no 'labels' (or 'fine_labels'); {fix}")
    data = np.asarray(entry["data"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != len(labels):
        raise EExitError(f"{path} holds data of shape {tuple(data.shape)} for {len(labels)} labels, expected "
                         f"({len(labels)}, 3072); {fix}")
    return data.astype(np.uint8).reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


class CIFAR10DataModule(ImageDataModule):
    name = "cifar10"
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)

    def read_splits(self):
        folder = Path(self.root) / FOLDER
        files = [folder / b for b in TRAIN_BATCHES + ["test_batch"]]
        if not all(f.is_file() for f in files):
            if not self.download:
                raise missing("CIFAR-10", folder, "data_batch_1..5 and test_batch")
            fetch(URL, self.root, ARCHIVE_MD5)
        train = [read_batch(f) for f in files[:5]]
        test = read_batch(files[5])
        to_t = lambda a: (torch.from_numpy(a[0]), torch.from_numpy(a[1]))  # noqa: E731
        return {"train": to_t((np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]))),
                "test": to_t(test)}
