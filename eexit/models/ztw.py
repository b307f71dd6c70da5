"""``ZTWNet``: cascading heads and geometric ensembles of Zero Time Waste (Wołczyk et al., NeurIPS 2021;
"Zero Time Waste in pre-trained early exit neural networks", Neural Networks 2023).

- **Cascade**: head k >= 1 also reads head k-1's output. Its logits get ``W_k LayerNorm(z_{k-1}) + c_k``
  added, where ``z_{k-1}`` is head k-1's (itself cascaded) output, detached: training head k never moves
  head k-1. Adding a linear map of the previous logits to a head's logits is the same as feeding them into
  the head's last linear layer, whatever the head's kind.
- **Geometric ensemble**: exit k answers with the weighted geometric mean of heads 0..k's probabilities,
  ``log q_k = mean_j(exp(w_kj) log softmax(z_j)) + b_k`` over j <= k, with one learned weight per member and
  one learned bias per class (weights drawn from N(0, 0.01), biases 0); the heads stay frozen meanwhile.

Both live in :meth:`combine`, which ``forward_all`` and the deployed ``infer`` share, so the real skip
exits exactly as the cached evaluation says: ``infer`` carries the surviving samples' earlier head outputs.
"""
from __future__ import annotations

import torch
from torch import nn

from eexit.models.early_exit import EarlyExitNet
from eexit.models.heads import HeadOutput


class Cascade(nn.Module):
    """What head k adds from head k-1's output: a linear map of its layer-normalised, detached logits."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.norm, self.linear = nn.LayerNorm(num_classes), nn.Linear(num_classes, num_classes)

    def forward(self, previous: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(previous.detach()))


class GeometricEnsemble(nn.Module):
    """Exit k's answer from the log-probabilities ``[B, k + 1, K]`` of heads 0..k."""

    def __init__(self, members: int, num_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(members) * 0.01)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, log_probs: torch.Tensor) -> torch.Tensor:
        return (log_probs * self.weight.exp()[:, None]).mean(1) + self.bias


class ZTWNet(EarlyExitNet):
    """An :class:`EarlyExitNet` whose exits cascade and ensemble. ``ensembling``: False while the heads
    train (each exit answers with its cascaded head alone), True once the ensembles are trained."""

    combines = True

    def __init__(self, backbone, attach: list[int], heads: list[nn.Module], num_classes: int):
        super().__init__(backbone, attach, heads)
        self.cascade = nn.ModuleList(Cascade(num_classes) for _ in heads[1:])
        self.ensembles = nn.ModuleList(GeometricEnsemble(i + 1, num_classes) for i in range(len(heads)))
        self.ensembling = True

    @classmethod
    def assemble(cls, backbone, attach: list[int], head, num_classes: int, image_shape: tuple[int, ...]) -> "ZTWNet":
        shapes = backbone.feature_shapes(image_shape)
        return cls(backbone, attach, [head(shapes[a], num_classes) for a in attach], num_classes)

    def extra_modules(self) -> nn.ModuleDict:
        return nn.ModuleDict({"cascade": self.cascade, "ensembles": self.ensembles})

    def exit_module(self, i: int) -> nn.Module:
        """What trains for exit i: its head (and cascade) first, then its ensemble."""
        return self.ensembles[i] if self.ensembling else self.heads[i]

    def combine(self, i: int, out: HeadOutput, carry: torch.Tensor | None) -> tuple[HeadOutput, torch.Tensor]:
        """Head i's raw output with the cascade added and, when ensembling, the ensemble's answer; ``carry``:
        heads 0..i-1's cascaded logits ``[B, i, K]`` of the same samples, returned with head i's appended."""
        z = out.logits if i == 0 else out.logits + self.cascade[i - 1](carry[:, -1])
        carry = z[:, None] if carry is None else torch.cat([carry, z[:, None]], 1)
        logits = self.ensembles[i](carry.log_softmax(-1)) if self.ensembling else z
        return HeadOutput(logits, out.confidence), carry

    def combine_macs(self, i: int, num_classes: int) -> int:
        """Multiply-accumulates :meth:`combine` adds at exit i (the cascade's linear map, the ensemble's sum)."""
        return (num_classes * num_classes if i else 0) + (i + 1) * num_classes
