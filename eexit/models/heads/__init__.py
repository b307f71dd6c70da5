"""Exit heads: feature map -> (logits, optional confidence).

A head class takes ``(in_shape, num_classes, **options)``; configs instantiate it with
``_partial_: true`` and the network builder supplies the shape at each attach point
(``eexit.models.early_exit.build_exit_net``). ``build_head(kind, in_shape, K, **options)``
looks one up by its ``kind``. A new head is a class here plus a yaml in ``eexit/conf/head/``.
A head whose first operation has no parameters and is an adaptive average pooling says so in
``input_reduction`` (the pooled ``(h, w)``): a frozen backbone's feature store then keeps the pooled
map instead of the full one (``input_reduction(head)``; ``None`` = the full map).
"""
from __future__ import annotations

from torch import nn

from eexit.errors import EExitError
from eexit.models.heads.base import HeadOutput
from eexit.models.heads.conv1d import Conv1dHead
from eexit.models.heads.convx import ConvXHead
from eexit.models.heads.eenet import EENetHead
from eexit.models.heads.linear import LinearHead

HEADS = {cls.kind: cls for cls in (Conv1dHead, ConvXHead, EENetHead, LinearHead)}


def build_head(kind: str, in_shape, num_classes: int, **options) -> nn.Module:
    if kind not in HEADS:
        raise EExitError(f"unknown head kind '{kind}'; choose one of: {', '.join(HEADS)}")
    return HEADS[kind](tuple(in_shape), num_classes, **options)


def head_kind(factory) -> str:
    """The ``kind`` of a head class or of a ``functools.partial`` of one (``"head"`` if unnamed)."""
    cls = getattr(factory, "func", factory)
    return getattr(cls, "kind", getattr(cls, "__name__", "head"))


def input_reduction(head: nn.Module) -> tuple[int, int] | None:
    """The ``(h, w)`` a head average-pools its input to before any parameter, or ``None``."""
    size = getattr(head, "input_reduction", None)
    return None if size is None else (int(size[0]), int(size[1]))


__all__ = ["input_reduction", "HEADS", "Conv1dHead", "ConvXHead", "EENetHead", "HeadOutput", "LinearHead", "build_head", "head_kind"]
