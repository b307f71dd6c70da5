"""Accuracy-versus-compute figures (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from eexit.evaluation import pareto_front  # noqa: E402


def cost_accuracy_axes(ax, title: str) -> None:
    """Labels, grid and legend of every accuracy-versus-compute figure."""
    ax.set_xlabel("compute (fraction of backbone MACs)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def tradeoff_plot(series: dict[str, list[dict]], backbone_acc: float, path: Path, title: str = "") -> Path:
    """One line per regime (its Pareto front) and its raw points; the backbone as a star at cost 1."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, points in series.items():
        if not points:
            continue
        front = pareto_front(points)
        line, = ax.plot([p["cost_fraction"] for p in front], [100 * p["test_acc"] for p in front],
                        marker="o", ms=3, label=name)
        ax.scatter([p["cost_fraction"] for p in points], [100 * p["test_acc"] for p in points],
                   s=6, alpha=0.3, color=line.get_color())
    ax.scatter([1.0], [100 * backbone_acc], marker="*", s=160, color="black", zorder=5, label="backbone")
    cost_accuracy_axes(ax, title)
    return save_figure(fig, path)
