"""Method name -> function ``(ctx, results) -> {regime: curve}`` (the curves get plotted)."""
from __future__ import annotations

from eexit.methods.bts import run_bts
from eexit.methods.eenets import run_eenets
from eexit.methods.nonboosted import run_nonboosted
from eexit.methods.pteenet import run_pteenet


def backbone_only(ctx, results):
    """Just the (cached) backbone: accuracy and per-block costs, no exits."""
    return {}


METHODS = {"backbone": backbone_only, "nonboosted": run_nonboosted, "bts": run_bts,
           "pteenet": run_pteenet, "eenets": run_eenets}
