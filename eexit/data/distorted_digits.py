"""Distorted digits: a harder, larger set generated reproducibly from scikit-learn's 1,797 digits.

Plain ``digits`` is too easy for early exits to show anything: a ResNet20 reaches 99.4 % and the
first head exits almost every sample, so BTS-EE's later heads have nothing to train on. This set
leaves room between the first exit and the backbone, with no download:

1. **Split by source image first**: ``test_size`` source digits (fixed seed 12345, never moves with
   ``seed``), then ``val_size`` of the rest (moved by ``seed``), the others train. Copies of one
   source never straddle two splits, so nothing leaks from train into val or test.
2. **Then distort**: each source gives ``copies`` images (32x32, as ``digits``). Every image draws a
   strength ``s = u ** skew`` (``u`` uniform on [0, 1]; ``skew > 1`` makes most images mild and a
   few severe: a mix of easy and hard) and, scaled by ``s``: a rotation up to ±40°, a scale by
   0.75–1.2, a shift up to ±5 px, a contrast cut up to 60 %, Gaussian noise up to σ = 0.3 and, with
   probability ``s``, an occluding grey block of 5–13 px. The draws come from one generator seeded
   by ``(source index, copy)``, so an image is the same whatever the split or run.

Measured with a ResNet20 (15 epochs, seeds 0-2): 91.4-93.5 % test accuracy (docs/survivors.md).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from eexit.config.arguments import check_arguments
from eexit.data.base import ImageDataModule, holdout_indices
from eexit.data.digits import load_digits_32

GENERATOR_SEED = 20261130   # part of the data's identity: changing it changes every image


def distort(images: torch.Tensor, sources: torch.Tensor, copy: int, skew: float) -> torch.Tensor:
    """``images`` (uint8 [N,3,32,32]) distorted as copy number ``copy`` of source images ``sources``."""
    n = images.shape[0]
    gens = [torch.Generator().manual_seed(GENERATOR_SEED + 7919 * int(s) + 104729 * copy) for s in sources]
    u = torch.stack([torch.rand(10, generator=g) for g in gens])          # [N, 10] uniform draws
    s = u[:, 0] ** skew
    angle = (u[:, 1] * 2 - 1) * torch.deg2rad(torch.tensor(40.0)) * s
    scale = 1 + (u[:, 2] * 0.45 - 0.25) * s
    shift = (u[:, 3:5] * 2 - 1) * (5 / 16) * s[:, None]                   # in [-1, 1] grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    x = images[:, :1].float() / 255
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    x = 0.5 + (x - 0.5) * (1 - 0.6 * s)[:, None, None, None]
    noise = torch.stack([torch.randn(1, 32, 32, generator=g) for g in gens])
    x = x + noise * (0.3 * s)[:, None, None, None]
    side = (5 + 8 * u[:, 5]).long()
    top, left = (u[:, 6] * (32 - side)).long(), (u[:, 7] * (32 - side)).long()
    for i in torch.nonzero(u[:, 8] < s).flatten().tolist():
        x[i, :, top[i]:top[i] + side[i], left[i]:left[i] + side[i]] = u[i, 9]
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).expand(n, 3, -1, -1).contiguous()


def distorted(split: tuple[torch.Tensor, torch.Tensor], copies: int, skew: float):
    """Every source image of ``split`` (images, labels, source indices) as ``copies`` distorted images."""
    x, y, src = split
    parts = [distort(x, src, c, skew) for c in range(copies)]
    return torch.cat(parts), y.repeat(copies)


class DistortedDigitsDataModule(ImageDataModule):
    """Args (beyond :class:`~eexit.data.base.ImageDataModule`'s):
        copies: distorted images per source digit (each split grows by this factor).
        skew: strength exponent; larger leaves more images mild.
        test_size, val_size: source digits held out for test (fixed) and validation (by ``seed``).
    """

    name = "distorted_digits"
    mean = (0.3489, 0.3489, 0.3489)  # measured over every image of the default set (copies 3, skew 1.5)
    std = (0.2841, 0.2841, 0.2841)
    default_flip = False

    def __init__(self, *args, copies: int = 3, skew: float = 1.5, test_size: int = 360, **kwargs):
        kwargs.setdefault("val_size", 360)
        super().__init__(*args, **kwargs)
        check_arguments(type(self), copies=copies, skew=skew, test_size=test_size)
        self.copies, self.skew, self.test_size = int(copies), float(skew), test_size

    def read_splits(self):
        x, y = load_digits_32()
        rest, test = holdout_indices(len(y), self.test_size, seed=12345)   # test never moves with seed
        train, val = holdout_indices(len(rest), self.val_size, self.seed)
        sources = {"train": rest[train], "val": rest[val], "test": test}
        self.sources = sources   # which source digit each split's images come from (x copies, in order)
        return {k: distorted((x[i], y[i], i), self.copies, self.skew) for k, i in sources.items()}

    def describe(self):
        return {**super().describe(), "test_size": self.test_size, "copies": self.copies, "skew": self.skew,
                "generator_seed": GENERATOR_SEED}
