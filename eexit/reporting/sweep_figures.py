"""A sweep's figures: every configuration's trade-off, identifiable, and the compared regimes' difference.

``fronts.png`` is a grid of small multiples: the swept keys (the overrides that differ
between configurations; ``seed`` never is one) choose the panel (first two keys: rows and
columns) and the colour (the last key); line style and marker tell the regimes apart, so
identical fronts stay visible. With several seeds a configuration's line is the mean front over
its seeds and a shaded band spans the seeds' fronts. A sweep over methods colours by regime
instead. Diamonds mark each job's configured operating point. ``wins.png`` draws, per
configuration (named by its values), the paired difference of the compared regimes' compute
saved within 2 points, with its 95 % interval over seeds and the verdict as the colour.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from eexit.evaluation.curves import validated_front
from eexit.reporting.configuration_keys import SKIP, group_runs
from eexit.reporting.configurations import regime_label
from eexit.reporting.plots import drop_bands, focus_y, plt, save_figure

STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "x", "^", "s")
VERDICT_COLOURS = {"better": "tab:green", "worse": "tab:red", "indistinguishable": "grey", "single seed": "black"}


def swept(runs: list[dict]) -> dict[str, list[str]]:
    """Override key -> its distinct values, for the keys whose values differ between jobs (in order)."""
    values: dict[str, list[str]] = {}
    for r in runs:
        for o in r.get("overrides", []):
            if "=" in o and not o.startswith(SKIP):
                k, v = o.lstrip("+").split("=", 1)
                values.setdefault(k, [])
                if v not in values[k]:
                    values[k].append(v)
    return {k: v for k, v in values.items() if len(v) > 1}


def value(run: dict, key: str) -> str | None:
    return next((o.lstrip("+").split("=", 1)[1] for o in run.get("overrides", []) if o.lstrip("+").startswith(key + "=")),
                None)


def seed_band(fronts: list[list[dict]], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, lowest and highest accuracy (%) over seeds at each cost of ``grid``. A front is a step function: at
    each cost, the test accuracy of the most expensive of its settings that costs that much or less; NaN below its
    cheapest point. (A front chosen on validation need not rise on test.)"""
    acc = np.full((len(fronts), grid.size), np.nan)
    for i, front in enumerate(fronts):
        for p in sorted(front, key=lambda q: q["cost_fraction"]):
            acc[i, grid >= p["cost_fraction"]] = 100 * p["test_acc"]
    with warnings.catch_warnings():   # a cost below every seed's cheapest point: NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(acc, 0), np.nanmin(acc, 0), np.nanmax(acc, 0)


def plot_fronts(runs: list[dict], sweep_dir: Path) -> Path:
    keys = swept(runs)
    colour_key = next(reversed(keys), None)
    by_regime = colour_key in (None, "method")
    panel_keys = [] if by_regime else list(keys)[:-1][:2]
    rows = keys[panel_keys[0]] if panel_keys else [None]
    cols = keys[panel_keys[1]] if len(panel_keys) > 1 else [None]
    width, height = (3.6, 2.9) if len(rows) * len(cols) > 1 else (5.2, 4.2)
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(width * len(cols) + 2.6, height * len(rows) + 0.8),
                             sharex=True, sharey=True, squeeze=False)
    colours, styles, curves, accs = {}, {}, 0, []
    backbone = max(r["backbone_test_acc"] for r in runs)
    seeds = max(len(g) for g in group_runs(runs))
    for group in group_runs(runs):
        first = group[0]
        ax = axes[rows.index(value(first, panel_keys[0])) if panel_keys else 0][
            cols.index(value(first, panel_keys[1])) if len(panel_keys) > 1 else 0]
        for name, reg in (first.get("regimes") or {}).items():
            label = regime_label(name, reg)
            colour = colours.setdefault(label if by_regime else value(first, colour_key), f"C{len(colours) % 10}")
            k = styles.setdefault(label, len(styles))
            style, marker = ("-", MARKERS[k % len(MARKERS)]) if by_regime else (STYLES[k % len(STYLES)],
                                                                               MARKERS[k % len(MARKERS)])
            fronts = [validated_front(reg.get("val_curve") or [], reg.get("curve") or [])   # chosen on validation
                      for r in group if (reg := (r.get("regimes") or {}).get(name) or {})]
            costs = sorted({p["cost_fraction"] for f in fronts for p in f})
            if not costs:
                continue
            grid = np.unique(np.concatenate([np.linspace(costs[0], costs[-1], 60), costs]))
            mean, low, high = seed_band(fronts, grid)
            ax.plot(grid, mean, color=colour, ls=style, lw=1.1, alpha=0.9, marker=marker, ms=3.5,
                    markevery=max(1, grid.size // 8), mfc="none" if k % 2 else colour, zorder=3 + k)
            if len(group) > 1:
                ax.fill_between(grid, low, high, color=colour, alpha=0.12, lw=0)
            for r in group:
                point = ((r.get("regimes") or {}).get(name) or {}).get("operating_point")
                if point:
                    ax.scatter([point["cost_fraction"]], [100 * point["test_acc"]], marker="D", s=26 - 10 * (k % 2),
                               color=colour, edgecolor="black", lw=0.5, zorder=8 + k)
            accs += [a for a in mean.tolist() if a == a]
            curves += 1
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            ax = axes[i][j]
            drop_bands(ax, backbone)
            ax.scatter([1.0], [100 * backbone], marker="*", s=120, color="black", zorder=12)
            ax.set_title(", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(panel_keys, (row, col)) if v), fontsize=8)
            ax.grid(alpha=0.3)
    focus_y(axes[0][0], backbone, accs)
    for ax in axes[-1]:
        ax.set_xlabel("compute (fraction of backbone)", fontsize=8)
    for row in axes:
        row[0].set_ylabel("test accuracy (%)", fontsize=8)
    handles = [Line2D([], [], color=c, lw=2) for c in colours.values()]
    labels = [str(k) if by_regime else f"{colour_key}={k}" for k in colours]
    handles += [Line2D([], [], color="grey", ls="-" if by_regime else STYLES[k % len(STYLES)],
                       marker=MARKERS[k % len(MARKERS)], mfc="none" if k % 2 else "grey") for k in styles.values()]
    labels += list(styles)
    handles += [Line2D([], [], ls="", marker="D", color="grey", markeredgecolor="black"),
                Line2D([], [], ls="", marker="*", ms=10, color="black")]
    labels += ["configured operating point", "backbone"]
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(f"Fronts chosen on validation, at their test values: {len(runs)} jobs, {curves} curves"
                 + (f", mean of {seeds} seeds (band: range over seeds)" if seeds > 1 else "")
                 + (f"; panels by {' × '.join(panel_keys)}" if panel_keys else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 2.4 / fig.get_figwidth(), 1))
    fig.savefig(sweep_dir / "fronts.png", dpi=110)
    plt.close(fig)
    return sweep_dir / "fronts.png"


def plot_wins(rows: list[dict], sweep_dir: Path) -> Path | None:
    """Not written (and an old one removed) when no configuration compares two regimes."""
    path = sweep_dir / "wins.png"
    shown = [r for r in rows if r.get("diff_drop_2pt") is not None]
    if not shown:
        path.unlink(missing_ok=True)
        return None
    fig, ax = plt.subplots(figsize=(7.5, max(2.5, 0.22 * len(shown) + 1.4)))
    for y, r in enumerate(shown):
        colour = VERDICT_COLOURS[r["verdict_drop_2pt"]]
        if r.get("diff_drop_2pt_low") is not None:
            ax.plot([100 * r["diff_drop_2pt_low"], 100 * r["diff_drop_2pt_high"]], [y, y], color=colour, lw=2)
        ax.scatter([100 * r["diff_drop_2pt"]], [y], color=colour, s=18, zorder=3)
    ax.axvline(0, color="black", lw=0.7)
    ax.set_yticks(range(len(shown)), [r["config"] for r in shown], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel(f"{shown[0]['pair']}, compute saved at ≤ 2 pt (points; mean, 95 % interval)",
                  fontsize=8)
    ax.legend([Line2D([], [], color=c, lw=2) for c in VERDICT_COLOURS.values()], list(VERDICT_COLOURS),
              fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)
