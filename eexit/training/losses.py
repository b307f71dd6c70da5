"""Loss objects an :class:`~eexit.training.module.EarlyExitModule` trains with.

A loss receives :class:`LossInputs` (every exit's logits, the early exits' confidences,
targets, sample indices and which exits are trained in this step) and returns a scalar.
Optional hooks ``on_train_epoch_start(epoch)`` / ``on_train_epoch_end()`` are forwarded by
the module. A loss that declares ``costs`` or ``num_train`` constructor parameters gets
them filled by the pipeline (``eexit.methods.objects.build_loss``). A new loss is a class
here plus a ``method.loss`` entry in yaml.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from eexit.config.arguments import check_arguments
from eexit.costs.exits import ExitCosts
from eexit.errors import BadArgument, EExitError
from eexit.training.cost_aware import cost_aware_loss, per_sample_ce, v4_tags


@dataclass
class LossInputs:
    logits: list[torch.Tensor]                  # every exit [B, K], the final (backbone) exit last
    confidences: list[torch.Tensor | None]      # the early exits' learned confidences [B]
    targets: torch.Tensor                       # [B] labels or backbone pseudo-labels
    idx: torch.Tensor | None                    # [B] sample indices in the training split
    trained: list[int]                          # exits whose parameters this step trains


class ExitCrossEntropy(nn.Module):
    """Sum of the trained exits' cross-entropies: the final exit when pretraining a backbone,
    every head when training them non-boosted, one head per boosted stage."""

    needs_confidence = False
    needs_all_exits = False   # only the trained exits' logits are computed

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        check_arguments(type(self), label_smoothing=label_smoothing)
        self.label_smoothing = float(label_smoothing)

    def forward(self, inp: LossInputs) -> torch.Tensor:
        return sum(F.cross_entropy(inp.logits[i], inp.targets, label_smoothing=self.label_smoothing)
                   for i in inp.trained)




class CostAwareLoss(nn.Module):
    """EENets/PTEENet cost-aware loss (``eexit/training/cost_aware.py``).

    Args:
        version: v0 | v1 | v2 | v3 | v4.
        lam: λ, the weight of the expected cost.
        divide_by_exits: PTEENet's v2 divides the sum by the number of early exits.
        two_stage_epochs: E > 0 trains with v0 for the first E epochs (EENets' ``--two-stage``).
        cost_convention: ``cumulative`` (default): exit i costs the backbone up to it plus every
            head evaluated on the way, the final exit 1 + all heads, the same numbers the
            evaluation reports; ``own_head``: PTEENet's published rates, the backbone up to exit i
            plus head i only, the final exit exactly 1.
        v4_weighting: ``reference`` (EENets' code) | ``balanced`` (see ``v4_confidence_term``).
        costs: the network's :class:`~eexit.costs.exits.ExitCosts` (filled by the pipeline).
        num_train: training samples (v4 keeps an exit tag per sample; batches carry indices).
        seed: seeds v4's random first-epoch tags.
    """

    needs_confidence = True
    needs_all_exits = True   # the mixture runs through every exit

    def __init__(self, version: str = "v2", lam: float = 1.0, divide_by_exits: bool = False,
                 two_stage_epochs: int = 0, cost_convention: str = "cumulative", v4_weighting: str = "reference",
                 costs: ExitCosts | None = None, num_train: int = 0, seed: int = 0):
        super().__init__()
        check_arguments(type(self), version=version, cost_convention=cost_convention, lam=lam,
                        two_stage_epochs=two_stage_epochs, v4_weighting=v4_weighting)
        if costs is None:
            raise BadArgument("CostAwareLoss", "costs", None, "the network's exit costs (eexit.costs.exit_costs(net))")
        self.version, self.lam, self.divide_by_exits = version, float(lam), bool(divide_by_exits)
        self.two_stage_epochs, self.cost_convention, self.v4_weighting = int(two_stage_epochs), cost_convention, v4_weighting
        fractions = costs.fractions if cost_convention == "cumulative" else costs.own_head_fractions
        self.register_buffer("costs", fractions.float())
        self.epoch = 0
        if version == "v4":  # EENets' exit tags: one per training sample, fixed for an epoch, checkpointed
            if num_train <= 0:
                raise BadArgument("CostAwareLoss", "num_train", num_train, "the training split's size (loss v4 tags "
                                  "each training sample with an exit)")
            tags = torch.randint(0, self.costs.numel(), (num_train,), generator=torch.Generator().manual_seed(seed))
            self.register_buffer("tags", tags)
            self.register_buffer("next_tags", tags.clone())

    def on_train_epoch_start(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self) -> None:
        """v4: the tags written during this epoch are the ones the next epoch trains on."""
        if self.version == "v4":
            self.tags.copy_(self.next_tags)

    def forward(self, inp: LossInputs) -> torch.Tensor:
        logits, conf = [z.float() for z in inp.logits], [h.float() for h in inp.confidences]
        y, tags = inp.targets, None
        if self.version == "v4":  # also during a v0 warm-up, so v4 starts from the warm network's tags
            if inp.idx is None:
                raise EExitError("CostAwareLoss v4 needs batches with sample indices (a DataModule whose batches "
                                 "carry each sample's index, as eexit's do)")
            tags = self.tags[inp.idx]
            self.next_tags[inp.idx] = v4_tags(per_sample_ce(logits, y).detach(), self.costs, self.lam)
        version = "v0" if self.epoch < self.two_stage_epochs else self.version
        return cost_aware_loss(version, logits, conf, self.costs, y, self.lam, self.divide_by_exits, tags,
                               self.v4_weighting)


class SDNLoss(nn.Module):
    """Shallow-Deep Networks' weighted objective (Kaya et al., ICML 2019) for joint training:
    ``CE(final) + sum_i w_i CE(head i)``, where head i's weight grows linearly over the epochs,
    ``w_i = min(tau_i, 0.01 + epoch * tau_i / epochs)`` (epoch counted from 1), up to ``tau_i``.
    The published ``tau`` for 6 heads is 0.15, 0.30, ..., 0.90 (SDN's ``model_funcs.sdn_train``);
    for E heads the default spreads it the same way, ``tau_i = 0.9 (i + 1) / E``."""

    needs_confidence = False
    needs_all_exits = True

    def __init__(self, epochs: int, max_weights: list[float] | None = None, start: float = 0.01):
        super().__init__()
        check_arguments(type(self), epochs=epochs, max_weights=max_weights)   # the weights grow over the epochs
        self.epochs, self.max_weights, self.start, self.epoch = int(epochs), max_weights, float(start), 0

    def on_train_epoch_start(self, epoch: int) -> None:
        self.epoch = epoch

    def weights(self, num_heads: int) -> list[float]:
        tau = self.max_weights or [0.9 * (i + 1) / num_heads for i in range(num_heads)]
        if len(tau) != num_heads:
            raise EExitError(f"SDNLoss: max_weights has {len(tau)} values for {num_heads} heads; give one per head")
        return [min(t, self.start + (self.epoch + 1) * t / self.epochs) for t in tau]

    def forward(self, inp: LossInputs) -> torch.Tensor:
        heads = inp.logits[:-1]
        loss = F.cross_entropy(inp.logits[-1], inp.targets)
        for w, logits in zip(self.weights(len(heads)), heads):
            loss = loss + w * F.cross_entropy(logits, inp.targets)
        return loss
