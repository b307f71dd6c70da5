"""What a run prints: the headline per regime, notes, and where the results are."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

HEAVY_HEADS = 0.10  # heads above this share of the backbone's MACs get a note in the summary


def quiet_lightning() -> None:
    """Lightning prints device/tip banners for every Trainer; a run makes several. Frozen parts
    (the backbone, finished heads) are in eval mode at the start of a fit on purpose."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for msg in (".*log_every_n_steps.*", ".*LeafSpec.*", ".*does not have many workers.*",
                ".*limit_val_batches.*", ".*torch.jit.*deprecated.*", ".*in eval mode at the start of training.*"):
        warnings.filterwarnings("ignore", message=msg)


def print_summary(results: dict, run_dir: Path) -> None:
    print(f"[eexit] {results['dataset']} / {results['backbone']}: backbone test accuracy "
          f"{100 * results['backbone_test_acc']:.2f}% ({results['backbone_macs'] / 1e6:.1f} M MACs)")
    for regime, head in (results.get("headlines") or {}).items():
        parts = []
        for drop, point in head.items():
            d = drop.replace("drop_", "≤").replace("pt", " pt")
            parts.append(f"{d}: " + ("none" if point is None else
                                     f"{-100 * point['cost_reduction']:+.1f}% compute at {100 * point['test_acc']:.2f}%"))
        print(f"[eexit] {regime:>11}: " + " | ".join(parts))
    for regime, r in (results.get("regimes") or {}).items():
        heavy = r.get("head_macs_fraction", 0.0)
        if heavy > HEAVY_HEADS:
            print(f"[eexit] note: {regime}'s heads cost {100 * heavy:.0f}% of the backbone's MACs, so exiting saves "
                  f"little; try lighter heads (head.*), fewer exits (placement.num_exits) or a deeper backbone")
    print(f"[eexit] results: {run_dir / 'results.json'}")
