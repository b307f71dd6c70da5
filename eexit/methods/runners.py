"""Method name -> function ``(ctx, results) -> {regime: curve}`` (the curves get plotted)."""
from __future__ import annotations

from eexit.methods.bts import run_bts
from eexit.methods.nonboosted import run_nonboosted


def backbone_only(ctx, results):
    """Just the (cached) backbone: accuracy and per-block costs, no exits."""
    return {}


METHODS = {"backbone": backbone_only, "nonboosted": run_nonboosted, "bts": run_bts}
