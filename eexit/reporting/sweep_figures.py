"""A sweep's figures: every configuration's trade-off, identifiable, and boosted against non-boosted.

``fronts.png`` is a grid of small multiples: the swept keys (the overrides that differ
between jobs) choose the panel (first two keys: rows and columns) and the colour (the last
key); the line style tells the regimes apart (boosted solid, non-boosted dashed, ...).
A sweep over methods colours by regime instead. Diamonds mark each job's configured
operating point. ``wins.png`` draws, per job, the compute each BTS-EE mode saves within 2
points, with a cross where a mode has no point within 2 points (not a 0 % bar).
"""
from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D

from eexit.evaluation import pareto_front
from eexit.reporting.plots import drop_bands, focus_y, plt, save_figure

SKIP = ("sweep=", "hydra.", "logger", "trainer.", "group=")
STYLES = ("-", "--", ":", "-.")


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


def regime_label(name: str, regime: dict) -> str:
    """``boosted [conv1d]``: two regimes of one name (non-boosted conv1d vs linear) stay apart."""
    return f"{name} [{regime['head']}]" if regime.get("head") else name


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
    colours, styles, curves = {}, {}, 0
    backbone = max(r["backbone_test_acc"] for r in runs)
    accs = []
    for r in runs:
        i = rows.index(value(r, panel_keys[0])) if panel_keys else 0
        j = cols.index(value(r, panel_keys[1])) if len(panel_keys) > 1 else 0
        for name, reg in (r.get("regimes") or {}).items():
            label = regime_label(name, reg)
            key = label if by_regime else value(r, colour_key)
            colour = colours.setdefault(key, f"C{len(colours) % 10}")
            style = "-" if by_regime else styles.setdefault(label, STYLES[len(styles) % len(STYLES)])
            front = pareto_front(reg.get("curve", []))
            axes[i][j].plot([p["cost_fraction"] for p in front], [100 * p["test_acc"] for p in front],
                            color=colour, ls=style, lw=1.1, alpha=0.9)
            point = reg.get("operating_point")
            if point:
                axes[i][j].scatter([point["cost_fraction"]], [100 * point["test_acc"]], marker="D", s=22,
                                   color=colour, edgecolor="black", lw=0.5, zorder=5)
            accs += [100 * p["test_acc"] for p in front]
            curves += 1
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            ax = axes[i][j]
            drop_bands(ax, backbone)
            ax.scatter([1.0], [100 * backbone], marker="*", s=120, color="black", zorder=6)
            ax.set_title(", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(panel_keys, (row, col)) if v), fontsize=8)
            ax.grid(alpha=0.3)
    focus_y(axes[0][0], backbone, accs)
    for ax in axes[-1]:
        ax.set_xlabel("compute (fraction of backbone)", fontsize=8)
    for row in axes:
        row[0].set_ylabel("test accuracy (%)", fontsize=8)
    handles = [Line2D([], [], color=c, lw=2) for c in colours.values()]
    labels = [str(k) if by_regime else f"{colour_key}={k}" for k in colours]
    handles += [Line2D([], [], color="grey", ls=s) for s in styles.values()] + \
               [Line2D([], [], ls="", marker="D", color="grey", markeredgecolor="black"),
                Line2D([], [], ls="", marker="*", ms=10, color="black")]
    labels += list(styles) + ["configured operating point", "backbone"]
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(f"Pareto fronts: {len(runs)} jobs, {curves} curves"
                 + (f"; panels by {' × '.join(panel_keys)}" if panel_keys else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 2.4 / fig.get_figwidth(), 1))
    fig.savefig(sweep_dir / "fronts.png", dpi=110)
    plt.close(fig)
    return sweep_dir / "fronts.png"


def plot_wins(rows: list[dict], sweep_dir: Path) -> Path | None:
    """Not written (and an old one removed) when no job has both BTS-EE modes."""
    path = sweep_dir / "wins.png"
    pairs = [(r["job"], r.get("boosted_drop_2pt"), r.get("nonboosted_drop_2pt")) for r in rows
             if "boosted_drop_2pt" in r and "nonboosted_drop_2pt" in r]
    if not pairs:
        path.unlink(missing_ok=True)
        return None
    fig, ax = plt.subplots(figsize=(max(6, 0.2 * len(pairs) + 2), 3.8))
    for offset, idx, name, colour in ((-0.2, 1, "boosted", "C0"), (0.2, 2, "non-boosted", "C1")):
        xs = [k + offset for k in range(len(pairs))]
        ax.bar([x for x, p in zip(xs, pairs) if p[idx] is not None],
               [100 * p[idx] for p in pairs if p[idx] is not None], 0.4, color=colour, label=name)
        missing = [x for x, p in zip(xs, pairs) if p[idx] is None]
        ax.scatter(missing, [0] * len(missing), marker="x", color=colour, s=30, zorder=4,
                   label=f"{name}: no point within 2 pt" if missing else None)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(range(len(pairs)), [j for j, _, _ in pairs], fontsize=6, rotation=90)
    ax.set_ylabel("compute saved at ≤ 2 pt (%)")
    ax.set_xlabel("job (see summary.md for its configuration)")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)

