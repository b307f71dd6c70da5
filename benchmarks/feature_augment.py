#!/usr/bin/env python
"""Do heads trained on augmented features over-fit less, and does boosting pay then? (``method.feature_augment``)

One sweep on the default data (``distorted_digits``, ResNet20): ``method.feature_augment`` ∈ {false, true} ×
``method.boosted.survivors`` ∈ ``--rules`` (in_sample; in_sample,cross_fit adds the default rule) × seeds 0, 1, 2
(6 jobs a rule, each training boosted and non-boosted heads on the same frozen backbone). Per cell it reports:
- head 0's **in-sample exit share** under ``in_sample``: the share of its own training samples its calibrated
  thresholds exit, beside the share of validation samples they exit (the gap is the over-fit that starves the
  later heads);
- head 0's test accuracy (non-boosted heads);
- **boosted − non-boosted** compute saved within 1 and 2 points (chosen on validation, reported on test), paired
  by seed, with the two-level bootstrap interval and verdict of the sweep summary (docs/evidence.md);
- **augmented − plain** boosted saving within 2 points, paired by seed and test image the same way.

    python benchmarks/feature_augment.py [--out benchmarks/local/survivors] [--rules in_sample] [--record]

About 20 minutes a rule on 2 CPU cores (augmented epochs run the backbone); a finished sweep is read, not run again.
Writes benchmarks/local/RESULTS-augment.md (``--record``: benchmarks/RESULTS-augment.md and
docs/records/feature_augment.json).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from eexit.bench.records import environment, results_file, write_record  # noqa: E402
from eexit.reporting.aggregate import load_runs  # noqa: E402
from eexit.reporting.configurations import configuration_row, samples, saved  # noqa: E402
from eexit.reporting.stats import two_level_interval, verdict  # noqa: E402

RULES, AUGMENT = ("in_sample",), ("false", "true")   # --rules in_sample,cross_fit adds the default rule (2x the time)


def run_sweep(out: Path, extra: list[str]) -> Path:
    sweep = out / "augment"
    if not (sweep / "summary.json").is_file():
        subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", "data=distorted_digits",
                        f"method.boosted.survivors={','.join(RULES)}", f"method.feature_augment={','.join(AUGMENT)}",
                        "seed=0,1,2", "logger=none", f"cache_dir={out / 'cache'}", f"hydra.sweep.dir={sweep}", *extra],
                       check=True, cwd=ROOT)
    return sweep


def cell_runs(runs: list[dict], rule: str, augment: str) -> list[dict]:
    return [r for r in runs if r["settings"]["method.boosted.survivors"] == f'"{rule}"'
            and r["settings"]["method.feature_augment"] == augment]


def exit_shares(runs: list[dict]) -> tuple[float, float]:
    """Head 0's exit share on its training pool and on validation, mean over seeds."""
    first = [r["regimes"]["boosted"]["method"]["stages"][0] for r in runs]
    return (float(np.mean([s["train_exited"] / s["train_pool"] for s in first])),
            float(np.mean([s["val_exited"] / s["val_pool"] for s in first])))


def paired(a_runs: list[dict], b_runs: list[dict], regime: str, drop: str) -> dict:
    """``a − b`` of one regime's saving, paired by seed and test image: mean and two-level bootstrap interval."""
    b_by_seed = {r["seed"]: r for r in b_runs}
    pairs = [(samples(a, regime, drop), samples(b_by_seed[a["seed"]], regime, drop)) for a in a_runs
             if a["seed"] in b_by_seed and saved(a, regime, drop) is not None
             and saved(b_by_seed[a["seed"]], regime, drop) is not None]
    if len(pairs) < 2:
        return {"mean_pt": None, "low_pt": None, "high_pt": None, "verdict": "fewer than 2 seeds", "seeds": len(pairs)}
    low, high = two_level_interval([x - y for x, y in pairs])
    mean = float(np.mean([np.mean(x - y) for x, y in pairs]))
    return {**points(mean, low, high), "verdict": verdict({"low": low, "high": high}), "seeds": len(pairs)}


def points(mean, low, high) -> dict:
    """Fractions of the backbone's compute as points, one decimal (what the docs cite)."""
    return {k: None if v is None else round(100 * v, 1) for k, v in (("mean_pt", mean), ("low_pt", low), ("high_pt", high))}


def cell(d: dict | None) -> str:
    if not d or d.get("mean_pt") is None:
        return "–" if not d else str(d["verdict"])
    return f"{d['mean_pt']:+.1f} [{d['low_pt']:+.1f}, {d['high_pt']:+.1f}] {d['verdict']}"


def measure(runs: list[dict]) -> dict:
    values = {}
    for rule in RULES:
        for augment in AUGMENT:
            rs = cell_runs(runs, rule, augment)
            if not rs:
                continue
            row = configuration_row(rs, set(), [])
            key = f"{rule}_augment_{augment}"
            train_share, val_share = exit_shares(rs)
            acc0 = float(np.mean([r["regimes"]["nonboosted"]["exit_test_acc"][0] for r in rs]))
            saved2 = row.get("boosted_drop_2pt")
            values[key] = {"seeds": len(rs), "head0_train_exit_pct": round(100 * train_share, 1),
                           "head0_val_exit_pct": round(100 * val_share, 1), "head0_test_acc_pct": round(100 * acc0, 1),
                           **{f"boosted_minus_nonboosted_{d}": {**points(row.get(f"diff_{d}"), row.get(f"diff_{d}_low"),
                                                                       row.get(f"diff_{d}_high")),
                                                                "verdict": row.get(f"verdict_{d}"),
                                                                "seeds": row.get(f"diff_{d}_seeds")}
                              for d in ("drop_1pt", "drop_2pt")},
                           "boosted_saved_drop_2pt_pct": None if saved2 is None else round(100 * saved2, 1)}
        plain, aug = cell_runs(runs, rule, "false"), cell_runs(runs, rule, "true")
        if plain and aug:
            values[f"{rule}_augmented_minus_plain_boosted_drop_2pt"] = paired(aug, plain, "boosted", "drop_2pt")
    return values


def table(values: dict) -> str:
    lines = ["| survivors | feature_augment | seeds | head 0 exits, own training pool | head 0 exits, validation | "
             "head 0 test acc. (non-boosted) | boosted saved ≤2 pt | boosted − non-boosted ≤1 pt | ≤2 pt |",
             "|---|---|---|---|---|---|---|---|---|"]
    for rule in RULES:
        for augment in AUGMENT:
            v = values.get(f"{rule}_augment_{augment}")
            if v is None:
                continue
            saved2 = v["boosted_saved_drop_2pt_pct"]
            lines.append(f"| {rule} | {augment} | {v['seeds']} | {v['head0_train_exit_pct']:.1f} % | "
                         f"{v['head0_val_exit_pct']:.1f} % | {v['head0_test_acc_pct']:.1f} % | "
                         f"{'–' if saved2 is None else f'{saved2:.1f} %'} | "
                         f"{cell(v['boosted_minus_nonboosted_drop_1pt'])} | {cell(v['boosted_minus_nonboosted_drop_2pt'])} |")
    lines += ["", "Augmented − plain, boosted saving within 2 points (paired by seed and test image): " + "; ".join(
        f"{rule}: {cell(values.get(f'{rule}_augmented_minus_plain_boosted_drop_2pt'))}" for rule in RULES)]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "local" / "survivors")
    p.add_argument("--record", action="store_true", help="write the tracked table and docs/records/feature_augment.json")
    p.add_argument("--rules", default="in_sample", help="survivor rules to sweep (in_sample,cross_fit: twice the time)")
    p.add_argument("overrides", nargs="*", help="key=value for every job (a test shrinks the budgets)")
    a = p.parse_args(argv)
    global RULES
    RULES = tuple(a.rules.split(","))
    values = measure(load_runs(run_sweep(a.out.resolve(), a.overrides)))
    text = f"# Augmented head training (method.feature_augment)\n\n{environment()}\n\n{table(values)}\n"
    results_file("RESULTS-augment.md", a.record).write_text(text)
    if a.record:
        write_record("feature_augment", "python benchmarks/feature_augment.py --record", values)
    print(text)


if __name__ == "__main__":
    main()
