"""scikit-learn's handwritten digits (1,797 real 8x8 scans, shipped with the package).

Resized to 32x32 and repeated to 3 channels so every CIFAR backbone runs on it
unchanged: the embedded dataset that works anywhere, with no download.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from eexit.config.arguments import check_arguments
from eexit.data.base import ImageDataModule, holdout


def load_digits_32() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [N,1,8,8] in 0..1
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    return x, torch.tensor(d.target, dtype=torch.int64)


class DigitsDataModule(ImageDataModule):
    """Fixed-seed train/val/test split of the 1,797 digits (``val_size`` and ``test_size`` images)."""

    name = "digits"
    mean = (0.3052, 0.3052, 0.3052)  # measured over all 1,797 resized images
    std = (0.3236, 0.3236, 0.3236)
    default_flip = False

    def __init__(self, *args, test_size: int = 360, **kwargs):
        kwargs.setdefault("val_size", 360)
        super().__init__(*args, **kwargs)
        check_arguments(type(self), test_size=test_size)
        self.test_size = test_size

    def read_splits(self):
        rest, test = holdout(load_digits_32(), self.test_size, seed=12345)  # test never moves with seed
        return {"train": rest, "test": test}

    def describe(self):
        return {**super().describe(), "test_size": self.test_size}
