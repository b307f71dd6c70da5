"""One pass of a frozen backbone over a split, each wanted block's output (reduced as its head would
reduce it, in the storage dtype) appended batch by batch to a sink: a store file (``NpyWriter``) or
memory (``MemorySink``). Peak memory with a store sink is one batch, whatever the split's size.
"""
from __future__ import annotations

import logging
import time

import torch
import torch.nn.functional as F

from eexit.data.feature_store import check_finite

log = logging.getLogger(__name__)


class MemorySink:
    """Where extracted batches go without a store: kept, concatenated at the end."""

    def __init__(self):
        self.parts: list[torch.Tensor] = []

    def append(self, t: torch.Tensor) -> None:
        self.parts.append(t)

    def close(self) -> None:
        pass

    abort = close

    def result(self) -> torch.Tensor:
        return torch.cat(self.parts)


@torch.inference_mode()
def extract(backbone, loader, wanted: dict[str, tuple[int, tuple | None]], dtype: torch.dtype, sinks: dict,
            split: str) -> dict[str, torch.Tensor]:
    """``wanted``: name -> (block, reduction); ``sinks`` has those names and optionally ``final``
    (the backbone's logits, float32) and ``labels``. Returns the results of sinks that keep them.
    On any error every sink is aborted (no partial file stays)."""
    blocks = sorted({b for b, _ in wanted.values()})
    device = next(backbone.parameters()).device
    backbone.eval()
    start = time.perf_counter()
    try:
        for x, y in loader:
            x, first = x.to(device), 0
            for b in blocks:
                x, first = backbone(x, first, b + 1), b + 1
                for name, (block, size) in wanted.items():
                    if block == b:
                        t = (x if size is None else F.adaptive_avg_pool2d(x, size)).to(dtype)
                        check_finite(name, split, t)
                        sinks[name].append(t)
            if "final" in sinks:
                final = backbone(x, first).float()
                check_finite("final", split, final)
                sinks["final"].append(final)
            if "labels" in sinks:
                sinks["labels"].append(y)
        for sink in sinks.values():
            sink.close()
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        raise
    log.info("features: extracted %s of %s in %.1f s", ", ".join(sinks), split, time.perf_counter() - start)
    return {n: sink.result() for n, sink in sinks.items() if hasattr(sink, "result")}


@torch.no_grad()
def features_of(backbone, x: torch.Tensor, attach: list[int], reductions: list) -> tuple[list[torch.Tensor], torch.Tensor]:
    """One batch through the frozen backbone: each attach block's output, reduced as its head reduces it,
    and the final logits (what :func:`extract` stores, computed for a batch instead of a split)."""
    feats, first = [], 0
    for block, size in zip(attach, reductions):
        x, first = backbone(x, first, block + 1), block + 1
        feats.append(x if size is None else F.adaptive_avg_pool2d(x, size))
    return feats, backbone(x, first)
