"""``exits.png``: how each exit behaves on its own (from ``results.json``'s per-regime analysis).

Left: the anytime curve, each exit's accuracy alone against its cost, one line per regime.
Right: the reliability diagram of every exit of the first regime (accuracy against mean
confidence per confidence bin; the diagonal is perfect calibration), with each exit's ECE.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from eexit.reporting.plots import save_figure  # noqa: E402


def exits_plot(regimes: dict[str, dict], path: Path, title: str = "") -> Path | None:
    """None (nothing written) when no regime carries the analysis."""
    shown = {name: r for name, r in regimes.items() if r.get("anytime")}
    if not shown:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, r in shown.items():
        rows = r["anytime"]
        left.plot([x["cost_fraction"] for x in rows], [100 * x["accuracy"] for x in rows], marker="o", label=name)
    left.set_xlabel("cost of the exit (fraction of backbone MACs)")
    left.set_ylabel("accuracy of that exit alone (%)")
    left.set_title("anytime: every exit on its own", fontsize=10)
    left.grid(alpha=0.3)
    left.legend(fontsize=7, loc="lower right")
    first, regime = next(iter(shown.items()))
    right.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    for c in regime.get("calibration", []):
        bins = c["reliability"]
        label = f"exit {c['exit']}" + (" (backbone)" if c["exit"] == len(regime["anytime"]) - 1 else "")
        right.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker=".",
                   label=f"{label}: ECE {100 * c['ece']:.1f}%")
    right.set_xlabel("mean confidence in the bin (max softmax)")
    right.set_ylabel("accuracy in the bin")
    right.set_title(f"reliability, {first}", fontsize=10)
    right.grid(alpha=0.3)
    right.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
