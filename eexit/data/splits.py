"""Fixed-seed hold-outs: validation out of training images, the calibration split out of validation."""
from __future__ import annotations

import torch

from eexit.errors import BadArgument

Split = tuple[torch.Tensor, torch.Tensor]


def holdout_count(size: int | float, n: int) -> int:
    """``size`` images, or a share ``0 < size < 1`` of the ``n`` training images (rounded): the paper configs
    give the official hold-out so (CIFAR-10: 0.1 = 5,000 of 50,000), and it fits a few-image fixture too."""
    return max(1, round(size * n)) if isinstance(size, float) and 0 < size < 1 else size


def holdout_indices(n: int, size: int | float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed-seed split of ``range(n)`` into (rest, held-out ``size``), each in ascending order."""
    size = holdout_count(size, n)
    if not 0 < size < n:
        raise BadArgument("ImageDataModule", "val_size", size, f"between 1 and {n - 1} (the data has no validation split, "
                          f"so it is held out of its {n} training images), or a val/ folder")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[size:].sort().values, perm[:size].sort().values


def holdout(split: Split, size: int, seed: int) -> tuple[Split, Split]:
    """Fixed-seed split of ``split`` into (rest, held-out ``size`` samples)."""
    x, y = split
    rest, val = holdout_indices(x.shape[0], size, seed)
    return (x[rest], y[rest]), (x[val], y[val])
