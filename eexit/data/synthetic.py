"""Deterministic random images of any count and size, for throughput benchmarks."""
from __future__ import annotations

import torch

from eexit.data.base import ImageDataModule
from eexit.config.validators import _int, positive_int, require
from eexit.config.validators import image_size as image_size_check


class SyntheticDataModule(ImageDataModule):
    name = "synthetic"

    def __init__(self, *args, train_size: int = 1024, val_size: int = 256, test_size: int = 256,
                 image_size: int = 32, num_classes: int = 10, **kwargs):
        require("SyntheticDataModule", train_size=(train_size, positive_int), val_size=(val_size, positive_int),
                test_size=(test_size, positive_int), image_size=(image_size, image_size_check),
                num_classes=(num_classes, lambda v: (_int(v) and v >= 2, "an integer >= 2")))
        super().__init__(*args, val_size=val_size, **kwargs)
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.image_size, self.num_classes = image_size, num_classes
        self.classes = tuple(str(i) for i in range(num_classes))

    def read_splits(self):
        gen = torch.Generator().manual_seed(self.seed)
        s = self.image_size
        return {k: (torch.randint(0, 256, (n, 3, s, s), generator=gen, dtype=torch.uint8),
                    torch.randint(0, self.num_classes, (n,), generator=gen))
                for k, n in self.sizes.items()}

    def planned_sizes(self):
        return dict(self.sizes), (3, self.image_size, self.image_size), "data.*_size"

    def describe(self):
        return {**super().describe(), **self.sizes, "image_size": self.image_size}
