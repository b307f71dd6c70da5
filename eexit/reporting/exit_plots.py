"""``exits.png``: how each exit behaves on its own (from ``results.json``'s per-regime analysis).

Left: the anytime curve, each exit's accuracy alone against its cost, one line per regime; a head
that never trained (a boosted stage left without samples) is a hollow cross labelled "untrained".
Right: the reliability diagrams of the first regime, one small panel per exit: bars of accuracy per
confidence bin (the diagonal is perfect calibration) with the bin's count above it; bins with fewer
than ``SPARSE`` samples are grey (their accuracy is noise); each panel gives the exit's ECE.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from eexit.reporting.plots import save_figure  # noqa: E402

SPARSE = 20   # a reliability bin with fewer samples is drawn grey


def exits_plot(regimes: dict[str, dict], path: Path, title: str = "") -> Path | None:
    """None (nothing written) when no regime carries the analysis."""
    shown = {name: r for name, r in regimes.items() if r.get("anytime")}
    if not shown:
        return None
    first, regime = next(iter(shown.items()))
    calib = regime.get("calibration", [])
    fig = plt.figure(figsize=(5 + 2.6 * max(1, len(calib)), 4.2))
    grid = fig.add_gridspec(1, 1 + max(1, len(calib)), width_ratios=[2.2] + [1] * max(1, len(calib)))
    anytime_panel(fig.add_subplot(grid[0]), shown)
    for i, c in enumerate(calib):
        reliability_panel(fig.add_subplot(grid[1 + i]), c, backbone=c["exit"] == len(regime["anytime"]) - 1,
                          first=i == 0)
    if title:
        fig.suptitle(f"{title} — reliability: {first}", fontsize=10)
    return save_figure(fig, path)


def anytime_panel(ax, shown: dict[str, dict]) -> None:
    for name, r in shown.items():
        rows = r["anytime"]
        untrained = set(r.get("untrained_heads") or [])
        line, = ax.plot([x["cost_fraction"] for x in rows], [100 * x["accuracy"] for x in rows], marker="o", label=name)
        for e in sorted(untrained):
            ax.scatter([rows[e]["cost_fraction"]], [100 * rows[e]["accuracy"]], marker="X", s=90, zorder=5,
                       facecolor="white", edgecolor=line.get_color())
            ax.annotate("untrained", (rows[e]["cost_fraction"], 100 * rows[e]["accuracy"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points", color=line.get_color())
    ax.set_xlabel("cost of the exit (fraction of backbone MACs)")
    ax.set_ylabel("accuracy of that exit alone (%)")
    ax.set_title("anytime: every exit on its own", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def reliability_panel(ax, c: dict, backbone: bool, first: bool) -> None:
    bins = c["reliability"]
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    for b in bins:
        colour = "lightgrey" if b["count"] < SPARSE else "tab:blue"
        ax.bar((b["low"] + b["high"]) / 2, b["accuracy"], width=b["high"] - b["low"], color=colour,
               edgecolor="white", lw=0.5)
        ax.text((b["low"] + b["high"]) / 2, min(b["accuracy"], 0.93) + 0.02, str(b["count"]), ha="center",
                fontsize=5, rotation=90)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"exit {c['exit']}{' (backbone)' if backbone else ''}: ECE {100 * c['ece']:.1f}%", fontsize=8)
    ax.set_xlabel("confidence (max softmax)", fontsize=7)
    if first:
        ax.set_ylabel(f"accuracy in the bin (grey: < {SPARSE} samples)", fontsize=7)
    ax.tick_params(labelsize=6)
