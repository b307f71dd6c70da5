"""Deterministic random images of any count and size, for throughput benchmarks."""
from __future__ import annotations

import torch

from eexit.config.arguments import check_arguments
from eexit.data.base import ImageDataModule


class SyntheticDataModule(ImageDataModule):
    name = "synthetic"

    def __init__(self, *args, train_size: int = 1024, val_size: int = 256, test_size: int = 256,
                 image_size: int = 32, num_classes: int = 10, **kwargs):
        check_arguments(type(self), train_size=train_size, val_size=val_size, test_size=test_size,
                        image_size=image_size, num_classes=num_classes)
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
