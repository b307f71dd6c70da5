"""Exit policy: a score per sample and a threshold per (exit, predicted class).

Thresholds live in one tensor shaped ``[num_exits, num_classes]``; a global
threshold is the special case where every entry is equal, and ``inf`` means
"this class never exits at this head". Higher scores mean more confident for
every kind, and a sample leaves when ``score >= threshold[exit, predicted class]``.
"""
from __future__ import annotations

import math

import torch

from eexit.exits.rule import passes


def score(kind: str, logits: torch.Tensor, confidence: torch.Tensor | None,
          streak: torch.Tensor | None = None) -> torch.Tensor:
    """Confidence score of each sample, higher = surer.

    ``max_softmax``: largest class probability; ``confidence``: the head's learned
    confidence; ``entropy``: 1 - H(p)/log K (1 for one-hot, 0 for uniform); ``patience``
    (PBEE, Zhou et al. 2020): how many consecutive exits, ending at this one, predict the same
    class (``streak``, kept by the inference loop; a threshold t leaves after t agreeing exits).
    """
    if kind == "patience":
        if streak is None:
            raise ValueError("score 'patience' needs the streak of agreeing exits (kept by the inference loop)")
        return streak.float()
    if kind == "max_softmax":   # float32 logits are used as they are (.float() would cost a dispatch per exit)
        return (logits if logits.dtype == torch.float32 else logits.float()).softmax(1).amax(1)
    if kind == "confidence":
        if confidence is None:
            raise ValueError("score 'confidence' needs heads that learn one (convx, eenet)")
        return confidence.float()
    if kind == "entropy":
        logp = logits.float().log_softmax(1)
        ent = -(logp.exp() * logp).sum(1)
        return 1 - ent / math.log(logits.shape[1])
    raise ValueError(f"unknown score '{kind}'; choose max_softmax, confidence, entropy or patience")


from eexit.config.names import SCORES  # noqa: E402  (the names the config accepts, importable without torch)


def next_streak(pred: torch.Tensor, prev: torch.Tensor | None, streak: torch.Tensor | None) -> torch.Tensor:
    """The patience streak after an exit predicting ``pred``: one more where it repeats ``prev``, else 1."""
    if prev is None:
        return torch.ones_like(pred)
    return torch.where(pred == prev, streak + 1, torch.ones_like(streak))


class ExitPolicy:
    def __init__(self, score_kind: str, thresholds: torch.Tensor):
        if score_kind not in SCORES:
            raise ValueError(f"unknown score '{score_kind}'; choose one of {SCORES}")
        if thresholds.dim() != 2:
            raise ValueError("thresholds must be shaped [num_exits, num_classes]")
        self.score_kind, self.thresholds = score_kind, thresholds.float()
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

    next_streak = staticmethod(next_streak)   # for the inference loop, which does not import this layer

    @property
    def needs_streak(self) -> bool:
        """Patience decides from the exits before this one: the loop keeps the streak."""
        return self.score_kind == "patience"

    def decide(self, exit_index: int, logits: torch.Tensor, confidence: torch.Tensor | None,
               streak: torch.Tensor | None = None):
        """``(leave [B] bool, predicted class [B])`` for one head's output."""
        s = score(self.score_kind, logits, confidence, streak)
        pred = logits.argmax(1)
        return passes(s, pred, self.thresholds_on(logits.device)[exit_index]), pred

    def decide_one(self, exit_index: int, logits: torch.Tensor, confidence: torch.Tensor | None,
                   streak: torch.Tensor | None = None) -> tuple[bool, int | None]:
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
        s = float(score(self.score_kind, logits, confidence, streak))
        if shared is not None:
            return (True, int(logits.argmax(1))) if s >= shared else (False, None)
        pred = int(logits.argmax(1))
        return s >= self._rows[exit_index][pred], pred

    def to_dict(self) -> dict:
        """JSON-ready: ``inf`` (never exits) becomes ``None``."""
        return {"score": self.score_kind,
                "thresholds": [[None if math.isinf(v) else v for v in row] for row in self._rows]}

    @classmethod
    def from_dict(cls, d: dict) -> "ExitPolicy":
        """The inverse of :meth:`to_dict`."""
        rows = [[math.inf if v is None else v for v in row] for row in d["thresholds"]]
        return cls(d["score"], torch.tensor(rows, dtype=torch.float32))
