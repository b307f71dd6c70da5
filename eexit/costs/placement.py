"""Where heads go: explicit block indices, or a cost-fraction rule (EENets / PTEENet).

With F the backbone's MACs and N early exits, exit i (0-based) goes after the first
block at which the backbone's cumulative MACs reach t_i (docs/methods.md, `eenets`):
``pareto`` t_i = F(1-0.8^(i+1)); ``fine`` t_i = F(1-0.95^(i+1)); ``linear`` t_i = F(i+1)/(N+1);
``gold_ratio`` t_i = F*phi^(i-N). Each exit takes a block after the previous one.
"""
from __future__ import annotations

from eexit.config.names import PLACEMENT_RULES
from eexit.errors import EExitError, KeyedError

PHI = (1 + 5 ** 0.5) / 2
RULES = {
    "pareto": lambda i, n: 1 - 0.8 ** (i + 1),
    "fine": lambda i, n: 1 - 0.95 ** (i + 1),
    "linear": lambda i, n: (i + 1) / (n + 1),
    "gold_ratio": lambda i, n: PHI ** (i - n),
}
assert tuple(RULES) == PLACEMENT_RULES   # the names the command line accepts


def rule_fractions(rule: str, num_exits: int) -> list[float]:
    if rule not in RULES:
        raise EExitError(f"unknown placement rule '{rule}'; choose one of: {', '.join(RULES)}")
    return [RULES[rule](i, num_exits) for i in range(num_exits)]


def place_by_rule(rule: str, num_exits: int, cumulative_macs: list[int]) -> list[int]:
    """Block indices for ``num_exits`` heads. ``cumulative_macs[b]`` = MACs of blocks 0..b
    (the last entry, the classifier, is the total and never an attach point)."""
    total = cumulative_macs[-1]
    blocks, previous = [], -1
    for target in rule_fractions(rule, num_exits):
        block = next((b for b in range(previous + 1, len(cumulative_macs) - 1)
                      if cumulative_macs[b] >= target * total - 1e-9 * total), None)
        if block is None:
            raise EExitError(f"placement rule '{rule}' cannot fit {num_exits} exits in this backbone "
                             f"({len(cumulative_macs) - 1} attach points); use fewer heads or another rule")
        blocks.append(block)
        previous = block
    return blocks


def attach_points(placement, backbone, image_shape) -> list[int]:
    """The attach blocks a ``placement`` config (``blocks`` / ``num_exits`` + ``rule``) gives on ``backbone``."""
    from eexit.costs.flops import (  # torch: only once a network is placed (settings stay light)
        block_macs,
        cumulative,
    )
    return resolve_placement(placement.blocks, placement.num_exits, placement.rule,
                             cumulative(block_macs(backbone, tuple(image_shape))))


def resolve_placement(blocks, num_exits, rule, cumulative_macs: list[int]) -> list[int]:
    """Explicit ``blocks`` win; otherwise ``num_exits`` + ``rule``. Validates the result."""
    last = len(cumulative_macs) - 2
    if blocks:
        chosen = [int(b) for b in blocks]
        bad = [b for b in chosen if not 0 <= b <= last]
        if bad or chosen != sorted(set(chosen)):
            raise KeyedError(f"{{key}}blocks={chosen} must be increasing block indices in 0..{last}")
        return chosen
    if not num_exits or num_exits < 1:
        raise KeyedError("set {key}blocks=[...] or {key}num_exits=<n> with {key}rule")
    return place_by_rule(rule, int(num_exits), cumulative_macs)


__all__ = ["RULES", "rule_fractions", "place_by_rule", "resolve_placement"]
