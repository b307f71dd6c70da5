"""Every exit's output on one split, kept so that thresholds can be swept without a forward pass."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import torch

from eexit.exits.scores import score_named


@dataclass
class CachedExits:
    """``logits`` [E+1, N, K] (the backbone's last), ``confidences`` [E, N] (NaN for heads
    without one), ``labels`` [N]."""

    logits: torch.Tensor
    confidences: torch.Tensor
    labels: torch.Tensor
    _scores: dict = field(default_factory=dict, init=False, repr=False, compare=False)   # per kind, see scores()

    @property
    def num_exits(self) -> int:
        return self.logits.shape[0] - 1

    @property
    def num_classes(self) -> int:
        return self.logits.shape[2]

    # Computed once per object: a regime's evaluation, analyses and real-skip check read the same scores and
    # predictions tens of times (the outputs are never changed in place; subset/cpu/cat make new objects).
    @cached_property
    def backbone_pred(self) -> torch.Tensor:
        return self.logits[-1].argmax(1)

    @cached_property
    def head_pred(self) -> torch.Tensor:
        return self.logits[:-1].argmax(2)

    def scores(self, kind: str) -> torch.Tensor:
        if kind not in self._scores:
            self._scores[kind] = self._scores_of(kind)
        return self._scores[kind]

    def _scores_of(self, kind: str) -> torch.Tensor:
        return score_named(kind).along(self.logits[:-1], self.confidences)

    def subset(self, mask: torch.Tensor) -> "CachedExits":
        return CachedExits(self.logits[:, mask], self.confidences[:, mask], self.labels[mask])

    def cpu(self) -> "CachedExits":
        return CachedExits(self.logits.cpu(), self.confidences.cpu(), self.labels.cpu())

    @classmethod
    def cat(cls, parts: list["CachedExits"]) -> "CachedExits":
        """Batches of one split, in order (what ``predict_step`` returns per batch)."""
        return cls(torch.cat([p.logits for p in parts], 1), torch.cat([p.confidences for p in parts], 1),
                   torch.cat([p.labels for p in parts]))
