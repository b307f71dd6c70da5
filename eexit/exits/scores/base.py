"""``ExitScore``: the interface every exit score implements (one class per score in this folder)."""
from __future__ import annotations

import math
from typing import ClassVar

import torch


class ExitScore:
    """A score per sample at one exit, from that exit's logits ``[B, K]`` and learned confidence ``[B]`` (``None``
    for heads without one). Higher is surer; a sample leaves when its score reaches the threshold of the class the
    exit predicts. Subclasses set ``name`` and implement :meth:`__call__`.

    A score that depends on the exits before this one (PBEE's patience) keeps a ``state``: :meth:`advance` gives the
    state after an exit, :meth:`keep` the state of the samples still running (the real-skip loop drops the ones that
    left). Stateless scores leave both as they are (no state: ``None``).

    Class attributes, literal so the command line reads them without torch: ``threshold_range`` (where thresholds
    mean something, inclusive), ``whole_thresholds`` (counts, not fractions), ``needs_confidence``."""

    name: ClassVar[str] = ""
    threshold_range: ClassVar[tuple[float, float | None]] = (0.0, 1.0)   # None: no upper bound
    whole_thresholds: ClassVar[bool] = False
    needs_confidence: ClassVar[bool] = False

    def __call__(self, logits: torch.Tensor, confidence: torch.Tensor | None, state=None) -> torch.Tensor:
        raise NotImplementedError

    def advance(self, state, logits: torch.Tensor):
        """The state after an exit whose logits are ``logits`` (stateless scores: ``None``)."""
        return None

    def keep(self, state, mask: torch.Tensor):
        """The state of the samples in ``mask`` (the ones that go on)."""
        return state

    def along(self, logits: torch.Tensor, confidences: torch.Tensor | None) -> torch.Tensor:
        """Every exit's scores ``[E, N]`` from cached outputs ``logits [E, N, K]`` and ``confidences [E, N]`` (NaN
        rows: heads without one), in exit order (a stateful score carries its state along)."""
        state, out = None, []
        for e in range(logits.shape[0]):
            conf = None if confidences is None or torch.isnan(confidences[e]).all() else confidences[e]
            state = self.advance(state, logits[e])
            out.append(self(logits[e], conf, state))
        return torch.stack(out) if out else torch.empty(0, logits.shape[1])

    @classmethod
    def allows(cls, value) -> bool:
        """Whether ``value`` is a threshold of this score (``inf``, nobody exits, always is)."""
        lo, hi = cls.threshold_range
        return value == math.inf or (lo <= value and (hi is None or value <= hi)
                                     and (not cls.whole_thresholds or float(value).is_integer()))
