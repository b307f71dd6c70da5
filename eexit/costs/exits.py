"""Cost per exit of an EarlyExitNet, in MACs and as a fraction of the plain backbone.

Leaving at exit k costs the backbone blocks up to head k's attach point plus every
head evaluated on the way (heads 0..k); the final exit costs the whole backbone
plus all heads. The expected cost of an operating point is
``sum_k exit_fraction_k * cost_k``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eexit.costs.flops import block_macs, count_macs, cumulative
from eexit.models.early_exit import EarlyExitNet


class _LogitsAndConfidence(nn.Module):
    """Traceable view of a head: fvcore's tracer needs tensor outputs, not None."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, x):
        out = self.head(x)
        return out.logits if out.confidence is None else (out.logits, out.confidence)


@dataclass
class ExitCosts:
    backbone_macs: int
    block_macs: list[int]
    head_macs: list[int]
    exit_macs: list[int]            # len = num_exits + 1 (final last)
    attach: list[int]

    @property
    def fractions(self) -> torch.Tensor:
        return torch.tensor(self.exit_macs, dtype=torch.float64) / self.backbone_macs

    @property
    def own_head_fractions(self) -> torch.Tensor:
        """PTEENet's published convention: the backbone up to exit i plus head i alone (not the
        heads evaluated before it), the final exit at exactly 1."""
        cum = cumulative(self.block_macs)
        own = [(cum[a] + h) / self.backbone_macs for a, h in zip(self.attach, self.head_macs)]
        return torch.tensor(own + [1.0], dtype=torch.float64)

    @property
    def backbone_only_fractions(self) -> list[float]:
        cum = cumulative(self.block_macs)
        return [cum[a] / self.backbone_macs for a in self.attach] + [1.0]

    def expected(self, exit_fractions) -> float:
        """Expected cost fraction for exit fractions (len num_exits + 1, summing to 1)."""
        return float((torch.as_tensor(exit_fractions, dtype=torch.float64) * self.fractions).sum())

    def to_rows(self, block_names: list[str]) -> list[dict]:
        fr = self.fractions.tolist()
        bb = self.backbone_only_fractions
        rows = [{"exit": i, "block": a, "block_name": block_names[a], "head_macs": self.head_macs[i],
                 "cost_macs": self.exit_macs[i], "cost_fraction": fr[i], "backbone_only_fraction": bb[i]}
                for i, a in enumerate(self.attach)]
        rows.append({"exit": len(self.attach), "block": len(block_names) - 1, "block_name": "final",
                     "head_macs": 0, "cost_macs": self.exit_macs[-1], "cost_fraction": fr[-1],
                     "backbone_only_fraction": 1.0})
        return rows


def exit_costs(net: EarlyExitNet, image_shape: tuple[int, ...]) -> ExitCosts:
    blocks = block_macs(net.backbone, image_shape)
    shapes = net.backbone.feature_shapes(image_shape)
    device = next(net.parameters()).device
    k = net.backbone.num_classes   # what combining exits (ZTW) add to each head is counted with it
    heads = [count_macs(_LogitsAndConfidence(h), torch.zeros(1, *shapes[a], device=device)) + net.combine_macs(i, k)
             for i, (h, a) in enumerate(zip(net.heads, net.attach))]
    cum_blocks, cum_heads = cumulative(blocks), cumulative(heads)
    per_exit = [cum_blocks[a] + cum_heads[i] for i, a in enumerate(net.attach)]
    per_exit.append(cum_blocks[-1] + (cum_heads[-1] if heads else 0))
    return ExitCosts(sum(blocks), blocks, heads, per_exit, list(net.attach))
