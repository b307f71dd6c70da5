"""Exit heads: feature map -> (logits, optional confidence). ``build_head(kind, in_shape, K, **options)``."""
from __future__ import annotations

from torch import nn

from eexit.errors import EExitError
from eexit.models.heads.base import HeadOutput
from eexit.models.heads.conv1d import Conv1dHead
from eexit.models.heads.convx import ConvXHead
from eexit.models.heads.eenet import EENetHead
from eexit.models.heads.linear import LinearHead

HEADS = {"conv1d": Conv1dHead, "convx": ConvXHead, "eenet": EENetHead, "linear": LinearHead}


def build_head(kind: str, in_shape, num_classes: int, **options) -> nn.Module:
    if kind not in HEADS:
        raise EExitError(f"unknown head kind '{kind}'; choose one of: {', '.join(HEADS)}")
    try:
        return HEADS[kind](tuple(in_shape), num_classes, **options)
    except TypeError as exc:
        raise EExitError(f"head={kind}: {exc}") from exc


__all__ = ["HEADS", "HeadOutput", "build_head"]
