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
            interval = f" [{100 * point['cost_reduction_low']:.1f}, {100 * point['cost_reduction_high']:.1f}]" \
                if point.get("cost_reduction_low") is not None else ""
            what = f"{saved:.1f}%{interval} less compute" if saved > 0 else f"no saving ({-saved:.1f}% more compute)"
            kept = "" if point.get("met_on_test", True) else \
                f" (lost {point['test_drop_pt']:.2f} pt on test: over the limit chosen on validation)"
            parts.append(f"{d}: {what}{time_text(point.get('time_saving'))} at "
                         f"{accuracy_text(point['test_acc'], guard)}{kept}")
    return " | ".join(parts)


def time_text(timed: dict | None) -> str:
    """`` (time −31% at batch 1, −24% at batch 32, cpu)``: the measured time saving beside the MAC saving."""
    if not timed:
        return ""
    one, batch = timed["batch_1"]["saving"], timed["batch"]["saving"]
    return (f" (time {-100 * one:+.0f}% at batch 1, {-100 * batch:+.0f}% at batch {timed['batch']['size']}, "
            f"{timed['device']})")


def certified_text(c: dict) -> str:
    """The certificate in one line: what is promised, on how many images, and what the test split shows."""
    gap = c["risk"].replace("_", " ")
    if c["setting"] is None or not c.get("exits", True):
        return (f"certified: no setting that exits keeps the {gap} within {c['delta_pt']:g} pt at α = {c['alpha']:g} "
                f"on {c['n']} calibration images: the backbone is kept (no exit)")
    return (f"certified: {gap} ≤ {c['delta_pt']:g} pt with probability {1 - c['alpha']:g} (bound {c['bound_pt']:.2f} "
            f"pt, {c['n']} calibration images, setting {c['setting']:g}); on test: {c['test_gap_pt']:.2f} pt, "
            f"{100 * c['test_cost_reduction']:.1f}% less compute")


def exits_text(regime) -> str:
    """Each head's validation accuracy; heads the fit left untrained say so."""
    skipped = set(regime.get("untrained_heads") or [])
    accs = regime.get("exit_val_acc", [])[:-1]
    return " / ".join("untrained" if i in skipped else f"{100 * a:.1f}%" for i, a in enumerate(accs))


def notes(name: str, regime) -> list[str]:
    """The method's own notes on the regime, and a note when its heads cost much of the backbone."""
    out = list(regime.get("notes") or [])
    if regime.get("head_macs_fraction", 0.0) > HEAVY_HEADS:
        out.append(f"{name}'s heads cost {100 * regime['head_macs_fraction']:.0f}% of the backbone's MACs, so exiting "
                   f"saves little; try lighter heads (head.*), fewer exits (placement.num_exits) or a deeper backbone")
    return out


def print_summary(results: dict, run_dir: Path) -> None:
    """The run's outcome in a few lines; the ``eexit`` command prints it last. Headlines are the settings chosen
    on validation, with their test numbers; guards that fired come as notes."""
    guard = results.get("guards")
    print(f"[eexit] {results['dataset']} / {results['backbone']}: backbone test accuracy "
          f"{accuracy_text(results['backbone_test_acc'], guard)} ({results['backbone_macs'] / 1e6:.1f} M MACs)")
    regimes = results.get("regimes") or {}
    if regimes and not (guard or {}).get("backbone_near_chance"):
        print("[eexit] compute saved within 1 / 2 / 5 points of the backbone: setting chosen on validation, "
              "reported on test with its 95% interval over the test images [low, high] (results.json 'oracle' has the "
              "test-selected ones)")
        for name, r in regimes.items():
            p = r["operating_point"]
            differs = " [deployed ≠ reported: see note]" if r.get("real_skip_matches") is False else ""
            print(f"[eexit] {name:>11}: {headline_text(r['headline'], guard)}{differs}")
            if r.get("certified"):
                print(f"[eexit] {'':>11}  {certified_text(r['certified'])}")
            print(f"[eexit] {'':>11}  {'certified' if r.get('certified') else 'configured'} ({p['setting']:g}): "
                  f"{accuracy_text(p['test_acc'], guard)} at {100 * p['cost_fraction']:.0f}% of the backbone's compute"
                  f"{time_text(p.get('time_saving'))};"
                  f" exits' validation accuracy {exits_text(r)}")
            for line in r.get("summary") or []:   # what the method says of its regime (BTS-EE: its pools)
                print(f"[eexit] {'':>11}  {line}")
    for line in warnings_text(results):
        print(f"[eexit] note: {line}")
    for name, r in regimes.items():
        for line in notes(name, r):
            print(f"[eexit] note: {line}")
    print(f"[eexit] results: {run_dir / 'results.json'}")
