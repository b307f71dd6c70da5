"""Accuracy-versus-compute figures (matplotlib, headless).

Every figure draws accuracy against compute as a fraction of the backbone's MACs, the
backbone as a black star at (1, its accuracy), and shaded bands for accuracy within 1, 2
and 5 points of it; the y axis is focused on the region that matters.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from eexit.evaluation.curves import pareto_front, validated_front  # noqa: E402

BANDS = ((1, 0.22), (2, 0.14), (5, 0.07))   # (points below the backbone, shade alpha)


def drop_bands(ax, backbone_acc: float) -> None:
    """Shade the accuracy within 1, 2 and 5 points of the backbone (darker = closer)."""
    top = 100 * backbone_acc
    previous = top
    for points, alpha in BANDS:
        ax.axhspan(top - points, previous, color="tab:green", alpha=alpha, lw=0)
        ax.text(0.005, top - points + 0.05, f"−{points} pt", transform=ax.get_yaxis_transform(), fontsize=7,
                color="darkgreen", va="bottom")
        previous = top - points


def focus_y(ax, backbone_acc: float, accs: list[float], floor_points: float = 12.0) -> None:
    """From a little below the lowest accuracy shown (but not more than ``floor_points`` below the
    backbone) to a little above the highest."""
    top = max([100 * backbone_acc] + accs)
    low = max(min(accs + [100 * backbone_acc - 5]), 100 * backbone_acc - floor_points)
    ax.set_ylim(low - 0.5, top + 0.8)


def cost_accuracy_axes(ax, title: str, legend: bool = True) -> None:
    """Labels and grid of every accuracy-versus-compute figure."""
    ax.set_xlabel("compute (fraction of backbone MACs)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7, loc="lower right")


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


MARKERS = ("o", "s", "^", "v", "D", "P")


def same_as(front: list[dict], drawn: dict[str, list[dict]]) -> str | None:
    """The name of an already drawn front with the same points, if any."""
    key = [(p["cost_fraction"], p["test_acc"]) for p in front]
    return next((name for name, other in drawn.items()
                 if [(p["cost_fraction"], p["test_acc"]) for p in other] == key), None)


def tradeoff_plot(series: dict[str, list[dict]], backbone_acc: float, path: Path, title: str = "",
                  configured: dict[str, dict] | None = None, val_series: dict[str, list[dict]] | None = None) -> Path:
    """One line per regime over faint dots (every setting of the calibrator's knob, dominated ones included): the
    validation-chosen front (the settings on the validation curve's Pareto front, at their test values: what a
    user gets), and the test curve's own envelope dashed and labelled oracle (it picks with the test labels); a
    diamond marks the configured operating point. Each regime has its own marker, drawn smaller and on top of the
    ones before, so identical fronts and points stay visible, and the legend says "same as"."""
    fig, ax = plt.subplots(figsize=(6.6, 4.6))
    drop_bands(ax, backbone_acc)
    accs, drawn = [], {}
    for k, (name, points) in enumerate((n, p) for n, p in series.items() if p):
        val = (val_series or {}).get(name)
        front = validated_front(val, points) if val else pareto_front(points)
        twin = same_as(front, drawn)
        chosen = "chosen on validation" if val else "Pareto front"
        line, = ax.plot([p["cost_fraction"] for p in front], [100 * p["test_acc"] for p in front],
                        marker=MARKERS[k % len(MARKERS)], ms=max(2.5, 6 - 1.5 * k), lw=max(0.8, 2.2 - 0.7 * k),
                        ls="-" if twin is None else "-.", zorder=3 + k,
                        label=f"{name} ({chosen}" + (f", same as {twin})" if twin else ")"))
        drawn[name] = front
        if val:
            oracle = pareto_front(points)
            ax.plot([p["cost_fraction"] for p in oracle], [100 * p["test_acc"] for p in oracle], ls=":", lw=0.9,
                    color=line.get_color(), alpha=0.8, zorder=2, label=f"{name}: oracle (test envelope)")
        ax.scatter([p["cost_fraction"] for p in points], [100 * p["test_acc"] for p in points],
                   s=7, alpha=0.3, color=line.get_color())
        accs += [100 * p["test_acc"] for p in front]
        point = (configured or {}).get(name)
        if point:
            ax.scatter([point["cost_fraction"]], [100 * point["test_acc"]], marker="D", s=max(20, 80 - 30 * k),
                       zorder=10 + k, facecolor=line.get_color(), edgecolor="black", label=f"{name}: configured")
    ax.scatter([1.0], [100 * backbone_acc], marker="*", s=180, color="black", zorder=20, label="backbone")
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], ls="", marker="o", ms=4, alpha=0.3, color="grey"))
    labels.append("faint dots: every setting swept")
    focus_y(ax, backbone_acc, accs)
    cost_accuracy_axes(ax, title, legend=False)
    ax.legend(handles, labels, fontsize=7, loc="lower right")
    return save_figure(fig, path)
