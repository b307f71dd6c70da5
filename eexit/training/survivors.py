"""Survivor rules: which training samples BTS-EE's head k+1 trains on, once head k is calibrated.

BTS-EE trains head k+1 on the samples heads <= k do not exit, so that its training pool looks
like what it meets at inference. Read literally (``in_sample``), "do not exit" is decided by head
k's scores on its *own* training samples; but a head fits those better than unseen ones, so the
thresholds calibrated on validation exit (nearly) every training sample while they exit only part
of validation, and on small data the later heads get nothing to train on (the default digits run:
head 0 exits 1,076 of its 1,077 training samples). The other rules keep the pool's share matched
to what happens on unseen data:

* ``in_sample``: the paper's literal reading, head k's thresholds applied to its training scores.
* ``rate_matched``: head k removes from the pool the share of the pool it exits on validation (per
  predicted class for a per-class calibrator such as CPM), the most confident samples first.
* ``cross_fit``: survivors are decided from out-of-fold scores (``eexit/training/cross_fit.py``):
  copies of head k trained on the other folds score each fold, as unseen data.
* ``soft``: every sample stays, weighted by the probability that heads <= k keep it, a sigmoid of
  the distance of its score below the threshold (CalexNet's importance-weighted cascade alignment,
  arXiv 2509.08318v2; the temperature is ours: a share of the spread of head k's validation scores).

The functions here are pure (tensors in, tensors out) so each rule is tested on a constructed pool.
"""
from __future__ import annotations

import torch

from eexit.config.names import SURVIVOR_RULES as RULES
from eexit.errors import BadArgument
from eexit.exits.rule import passes


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise BadArgument("BoostedTraining", "survivors", rule, "one of " + ", ".join(RULES))
    return rule


def rate_matched(train_scores: torch.Tensor, train_pred: torch.Tensor, alive_train: torch.Tensor,
                 val_pred: torch.Tensor, alive_val: torch.Tensor, leave_val: torch.Tensor,
                 num_classes: int, per_class: bool) -> torch.Tensor:
    """Samples leaving the training pool: in each group (the head's predicted class, or one group),
    ``round(rate x pool)`` of the pool's most confident, where ``rate`` is the share of the
    group's validation pool that leaves (0 where validation has none of the group)."""
    leave = torch.zeros_like(alive_train)
    groups = range(num_classes) if per_class else [None]
    for c in groups:
        val_in = alive_val if c is None else alive_val & (val_pred == c)
        train_in = alive_train if c is None else alive_train & (train_pred == c)
        n_val, cand = int(val_in.sum()), train_in.nonzero().squeeze(1)
        if n_val == 0 or cand.numel() == 0:
            continue
        take = round(int((leave_val & val_in).sum()) / n_val * cand.numel())
        order = torch.argsort(train_scores[cand], descending=True, stable=True)
        leave[cand[order[:take]]] = True
    return leave


def keep_probability(scores: torch.Tensor, pred: torch.Tensor, thresholds: torch.Tensor,
                     temperature: float) -> torch.Tensor:
    """P(the head keeps each sample) = sigmoid((threshold of its predicted class - score) / temperature):
    1 for a class that never exits (threshold inf), 0 for one where everything exits (-inf);
    ``temperature`` -> 0 gives back the hard rule ``1 - passes``."""
    tau = thresholds.to(scores.device).gather(-1, pred)
    if temperature <= 0:
        return (~passes(scores, pred, thresholds)).float()
    p = torch.sigmoid((tau - scores) / temperature)
    return torch.where(torch.isinf(tau), (tau > 0).float(), p)


def soft_temperature(val_scores: torch.Tensor, share: float) -> float:
    """The soft rule's temperature: ``share`` of the standard deviation of the validation scores
    (finite ones) head k was calibrated on, so the rule means the same for every score kind."""
    finite = val_scores[torch.isfinite(val_scores)]
    spread = float(finite.std()) if finite.numel() > 1 else 0.0
    return share * spread if spread > 0 else share
