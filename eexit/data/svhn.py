"""SVHN cropped digits from the official ``.mat`` files (label 10 means digit 0)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import torch

from eexit.data.base import ImageDataModule
from eexit.data.download import fetch, missing

BASE_URL = "http://ufldl.stanford.edu/housenumbers/"
FILES = {"train": ("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
         "test": ("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
         "extra": ("extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7")}


def read_mat(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``X`` (32,32,3,N) uint8 -> [N,3,32,32]; ``y`` (N,1) with 10 -> 0."""
    mat = scipy.io.loadmat(str(path))
    x = np.ascontiguousarray(np.transpose(mat["X"], (3, 2, 0, 1))).astype(np.uint8)
    y = mat["y"].astype(np.int64).reshape(-1)
    y[y == 10] = 0
    return torch.from_numpy(x), torch.from_numpy(y)


class SVHNDataModule(ImageDataModule):
    """Args beyond the base: ``use_extra`` appends the 531k 'extra' images to train."""

    name = "svhn"
    mean = (0.4377, 0.4438, 0.4728)
    std = (0.1980, 0.2010, 0.1970)
    default_flip = False  # digits are not mirror-symmetric

    def __init__(self, *args, use_extra: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.use_extra = use_extra

    def read_splits(self):
        root = Path(self.root)
        wanted = ["train", "test"] + (["extra"] if self.use_extra else [])
        for split in wanted:
            name, md5 = FILES[split]
            if not (root / name).is_file():
                if not self.download:
                    raise missing("SVHN", root, " and ".join(FILES[s][0] for s in wanted))
                fetch(BASE_URL + name, root, md5, extract=False)
        out = {s: read_mat(root / FILES[s][0]) for s in wanted}
        if self.use_extra:
            extra = out.pop("extra")
            out["train"] = (torch.cat([out["train"][0], extra[0]]), torch.cat([out["train"][1], extra[1]]))
        return out

    def describe(self):
        return {**super().describe(), "use_extra": self.use_extra}
