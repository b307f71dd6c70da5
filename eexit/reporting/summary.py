"""What a run prints: the headline per regime, notes, and where the results are."""
from __future__ import annotations

from pathlib import Path

from eexit.reporting.guards import accuracy_text, warnings_text

HEAVY_HEADS = 0.10  # heads above this share of the backbone's MACs get a note in the summary


def headline_text(head: dict, guard: dict | None = None) -> str:
    parts = []
    for drop, point in head.items():
        d = drop.replace("drop_", "≤").replace("pt", " pt")
        if point is None:
            parts.append(f"{d}: none")
        else:
            saved = 100 * point["cost_reduction"]
            what = f"{saved:.1f}% less compute" if saved > 0 else f"no saving ({-saved:.1f}% more compute)"
            parts.append(f"{d}: {what} at {accuracy_text(point['test_acc'], guard)}")
    return " | ".join(parts)


def exits_text(regime: dict) -> str:
    """Each head's validation accuracy; boosted heads a stage skipped say so."""
    skipped = {s["head"] for s in regime.get("stages", []) if not s["trained"]}
    accs = regime.get("exit_val_acc", [])[:-1]
    return " / ".join("untrained" if i in skipped else f"{100 * a:.1f}%" for i, a in enumerate(accs))


def stages_text(regime: dict) -> str | None:
    """Per boosted stage: the training pool (share of the training set) and how many of it exit there."""
    stages = regime.get("stages") or []
    if not stages:
        return None
    total = max(stages[0]["train_pool"], 1)
    parts = [f"head {s['head']} " + (f"trained on {s['train_pool']} ({100 * s['train_pool'] / total:.1f}%), "
                                     f"{s['train_exited']} exit" if s["trained"] else
                                     f"untrained ({s['train_pool']} left)") for s in stages]
    return f"boosted pools (survivors: {stages[0].get('survivors', 'in_sample')}): " + "; ".join(parts)


def notes(name: str, regime: dict) -> list[str]:
    out = []
    skipped = [s for s in regime.get("stages", []) if not s["trained"]]
    if skipped:
        first = regime["stages"][0]
        out.append(f"{name} heads {', '.join(str(s['head']) for s in skipped)} had no training samples left: the "
                   f"earlier heads exit {first['train_exited']} of {first['train_pool']} training samples once "
                   f"calibrated (a head fits its training set better than validation), so BTS-EE has fewer exits "
                   f"on this data; method.boosted.survivors=rate_matched (or cross_fit, soft) leaves them the "
                   f"share validation says (docs/survivors.md)")
    if regime.get("head_macs_fraction", 0.0) > HEAVY_HEADS:
        out.append(f"{name}'s heads cost {100 * regime['head_macs_fraction']:.0f}% of the backbone's MACs, so exiting "
                   f"saves little; try lighter heads (head.*), fewer exits (placement.num_exits) or a deeper backbone")
    return out


def print_summary(results: dict, run_dir: Path) -> None:
    """The run's outcome in a few lines; ``run.py`` prints it last. Headlines are the settings chosen
    on validation, with their test numbers; guards that fired come as notes."""
    guard = results.get("guards")
    print(f"[eexit] {results['dataset']} / {results['backbone']}: backbone test accuracy "
          f"{accuracy_text(results['backbone_test_acc'], guard)} ({results['backbone_macs'] / 1e6:.1f} M MACs)")
    regimes = results.get("regimes") or {}
    if regimes and not (guard or {}).get("backbone_near_chance"):
        print("[eexit] compute saved within 1 / 2 / 5 points of the backbone: setting chosen on validation, "
              "reported on test (results.json 'oracle' has the test-selected ones)")
        for name, r in regimes.items():
            p = r["operating_point"]
            print(f"[eexit] {name:>11}: {headline_text(r['headline'], guard)}")
            print(f"[eexit] {'':>11}  configured ({p['setting']:g}): {accuracy_text(p['test_acc'], guard)} at "
                  f"{100 * p['cost_fraction']:.0f}% of the backbone's compute; exits' validation accuracy "
                  f"{exits_text(r)}")
            if pools := stages_text(r):
                print(f"[eexit] {'':>11}  {pools}")
    for line in warnings_text(results):
        print(f"[eexit] note: {line}")
    for name, r in regimes.items():
        for line in notes(name, r):
            print(f"[eexit] note: {line}")
    print(f"[eexit] results: {run_dir / 'results.json'}")
