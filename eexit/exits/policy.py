"""Exit policy: a score per sample and a threshold per (exit, predicted class).

Thresholds live in one tensor shaped ``[num_exits, num_classes]``; a global
threshold is the special case where every entry is equal, and ``inf`` means
"this class never exits at this head". Higher scores mean more confident for
every kind, and a sample leaves when ``score >= threshold[exit, predicted class]``.
"""
from __future__ import annotations

import math

import torch

from eexit.errors import BadArgument
from eexit.exits.rule import passes
from eexit.exits.scores import score_named


def score(kind, logits: torch.Tensor, confidence: torch.Tensor | None, state=None) -> torch.Tensor:
    """The score ``kind`` (a name, or an :class:`~eexit.exits.scores.ExitScore`) of each sample, higher = surer."""
    return score_named(kind)(logits, confidence, state)


class ExitPolicy:
    """An exit score (its name, or an :class:`~eexit.exits.scores.ExitScore`) and the threshold table it is held to."""

    def __init__(self, score_kind, thresholds: torch.Tensor, certificate: dict | None = None):
        """``certificate``: what a certified selection promises of these thresholds (``selection=risk``: the risk,
        δ, α, the calibration split's size and the bound), carried into checkpoints and exports."""
        self.certificate = certificate
        if thresholds.dim() != 2:
            raise BadArgument("ExitPolicy", "thresholds", tuple(thresholds.shape), "a table shaped [num_exits, num_classes]")
        self.score = score_named(score_kind)
        self.score_kind, self.thresholds = self.score.name, thresholds.float()
        self._on_device: dict[torch.device, torch.Tensor] = {}
        self._rows = self.thresholds.tolist()  # float32 values, exact as Python floats
        # per exit, for decide_one: the threshold every class shares (a global threshold), else None
        self._shared = [row[0] if all(v == row[0] for v in row) else None for row in self._rows]

    @classmethod
    def global_threshold(cls, score_kind: str, value: float, num_exits: int, num_classes: int) -> "ExitPolicy":
        return cls(score_kind, torch.full((num_exits, num_classes), float(value)))

    def thresholds_on(self, device: torch.device) -> torch.Tensor:
        """The threshold table on ``device``, copied there once (not once per batch and exit)."""
        if device not in self._on_device:
            self._on_device[device] = self.thresholds.to(device)
        return self._on_device[device]

    def advance(self, state, logits: torch.Tensor):
        """The score's state after an exit (patience's streak; ``None`` for a score that reads one exit only)."""
        return self.score.advance(state, logits)

    def keep(self, state, mask: torch.Tensor):
        """The state of the samples that go on (the real-skip loop drops the ones that left)."""
        return self.score.keep(state, mask)

    def decide(self, exit_index: int, logits: torch.Tensor, confidence: torch.Tensor | None, state=None):
        """``(leave [B] bool, predicted class [B])`` for one head's output (``state``: from :meth:`advance`)."""
        s = self.score(logits, confidence, state)
        pred = logits.argmax(1)
        return passes(s, pred, self.thresholds_on(logits.device)[exit_index]), pred

    def decide_one(self, exit_index: int, logits: torch.Tensor, confidence: torch.Tensor | None,
                   state=None) -> tuple[bool, int | None]:
        """:meth:`decide` for a batch of one, as Python values: ``(leave, class)``, the class only when the sample
        leaves (else None). The same float32 score and :func:`eexit.exits.rule.passes` evaluated on the host (one
        Python comparison instead of the gather and compare operators that dominate a one-sample decision on a CPU;
        tests check both forms decide alike, ties included). Right after a stage's convolutions a tiny operator
        costs several times what it does timed alone (profiled on a CPU), so only what decides is computed: an exit
        whose thresholds are all ``inf`` computes nothing, and one whose classes share a threshold reads the class
        only for a sample that leaves."""
        shared = self._shared[exit_index]
        if shared == math.inf:
            return False, None
        s = float(self.score(logits, confidence, state))
        if shared is not None:
            return (True, int(logits.argmax(1))) if s >= shared else (False, None)
        pred = int(logits.argmax(1))
        return s >= self._rows[exit_index][pred], pred

    def to_dict(self) -> dict:
        """JSON-ready: ``inf`` (never exits) becomes ``None``."""
        return {"score": self.score_kind,
                "thresholds": [[None if math.isinf(v) else v for v in row] for row in self._rows],
                **({"certificate": self.certificate} if self.certificate else {})}

    @classmethod
    def from_dict(cls, d: dict) -> "ExitPolicy":
        """The inverse of :meth:`to_dict`."""
        rows = [[math.inf if v is None else v for v in row] for row in d["thresholds"]]
        return cls(d["score"], torch.tensor(rows, dtype=torch.float32), d.get("certificate"))
