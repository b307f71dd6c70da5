"""Guards: when a number in ``results.json`` means less than it seems, say so in words.

- the backbone within ``NEAR_CHANCE`` of chance (the majority class's share of the test split):
  savings against it mean nothing, so none are reported;
- a test split so small that one sample moves accuracy by ``SMALL_STEP`` or more: every accuracy
  printed carries its 95 % interval (``stats.accuracy_interval``);
- exits that, alone, beat the backbone on test (the reference is then not an upper bound);
- heads that never trained (a boosted stage without samples).
Pure functions of a results dict.
"""
from __future__ import annotations

from eexit.reporting.stats import accuracy_interval

NEAR_CHANCE = 0.05   # accuracy within 5 points of chance
SMALL_STEP = 0.002   # one sample moves accuracy by >= 0.2 points (test splits of <= 500 samples)


def guards(results: dict) -> dict:
    regimes = results.get("regimes") or {}
    first = next(iter(regimes.values()), {})
    n, chance = first.get("test_samples"), first.get("chance_acc")
    backbone = results["backbone_test_acc"]
    return {"test_samples": n, "chance_acc": chance,
            "backbone_near_chance": chance is not None and backbone <= chance + NEAR_CHANCE + 1e-9,
            "accuracy_step": None if not n else 1 / n,
            "small_split": bool(n) and 1 / n >= SMALL_STEP,
            "exits_beat_backbone": {name: [e for e, a in enumerate(r.get("exit_test_acc", [])[:-1]) if a > backbone]
                                    for name, r in regimes.items()},
            "untrained_heads": {name: list(r.get("untrained_heads") or []) for name, r in regimes.items()}}


def accuracy_text(acc: float, guard: dict | None) -> str:
    """``99.17%``, or on a small split ``99.17% (95% CI 98.4–99.6)``."""
    text = f"{100 * acc:.2f}%"
    if guard and guard.get("small_split"):
        low, high = accuracy_interval(acc, guard["test_samples"])
        text += f" (95% CI {100 * low:.1f}–{100 * high:.1f})"
    return text


def warnings_text(results: dict) -> list[str]:
    """One sentence per guard that fired."""
    g = results.get("guards") or {}
    out = []
    if g.get("backbone_near_chance"):
        out.append(f"the backbone's test accuracy {100 * results['backbone_test_acc']:.2f}% is within "
                   f"{100 * NEAR_CHANCE:.0f} points of chance ({100 * g['chance_acc']:.2f}%, the majority class): "
                   f"no savings are reported against it; train it longer (pretrain.epochs) or on more data")
    if g.get("small_split"):
        out.append(f"the test split has {g['test_samples']} samples: one sample moves accuracy by "
                   f"{100 * g['accuracy_step']:.2f} points, so accuracies carry their 95% interval (Wilson)")
    for name, exits in (g.get("exits_beat_backbone") or {}).items():
        if exits:
            out.append(f"{name} exit(s) {', '.join(map(str, exits))} alone beat the backbone on test: the backbone "
                       f"is not an upper bound here, so 'within N points of it' is a loose reference")
    for name, regime in (results.get("regimes") or {}).items():
        if regime.get("real_skip_matches") is False:
            out.append(f"{name}: the deployed network (real skip, float32) sent some checked test images to another "
                       f"exit or answer than the reported simulation (from the stored features): its reported numbers "
                       f"are not exactly what deploys (docs/troubleshooting.md, 'Real skip differs')")
    return out
