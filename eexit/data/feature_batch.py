"""``FeatureBatch``: what a module training exits on a frozen backbone receives, stored or computed on the fly."""
from __future__ import annotations

from typing import NamedTuple

import torch


class FeatureBatch(NamedTuple):
    """A frozen backbone's outputs for a batch: feature maps at every attach point (``None`` where no head
    reads them this step), the backbone's final logits, labels and the samples' indices in their split."""

    feats: list[torch.Tensor]
    final: torch.Tensor
    labels: torch.Tensor
    idx: torch.Tensor
