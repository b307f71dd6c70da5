"""Method name -> function ``(ctx, results) -> {regime: curve}`` (the curves get plotted)."""
from __future__ import annotations


def backbone_only(ctx, results):
    """Just the (cached) backbone: accuracy and per-block costs, no exits."""
    return {}


METHODS = {"backbone": backbone_only}
