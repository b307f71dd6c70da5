"""BTS-EE's survivor rules measured: boosted against non-boosted, 3 seeds, on three datasets, decided on validation.

For each dataset, one sweep over ``method.boosted.survivors`` x ``seed`` (every job trains both regimes on the
same frozen backbone, so boosted − non-boosted is paired by seed and image). The table puts first what a choice of
rule may read, the **validation** images (each headline's setting is chosen on validation; its validation images'
exits, ``val_sample_exits``, give the saving per image), then the **test** difference as the check of that choice.
Differences carry the two-level bootstrap interval (seeds, then images; docs/evidence.md) over the seeds where
both regimes have a setting that saves compute ("k of n"), never averaging a "none" in as 0.

    python benchmarks/survivors.py [--out benchmarks/local/survivors] [--seeds 0,1,2]
        [--datasets digits,distorted_digits,photos] [--record] [key=value ...]   (make bench-survivors)

Extra ``key=value`` overrides go to every job (a test uses them to shrink the budgets).
``photos`` is the image folder written by ``benchmarks/photo_folder.py`` (real photo crops). A
sweep that has finished is not run again (its summary is read); an unfinished one resumes.
About 40 minutes on 2 CPU cores for the three datasets and 3 seeds. ``--record``: docs/records/survivors.json.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from eexit.bench.records import environment, write_record
from eexit.reporting.aggregate import load_runs
from eexit.reporting.samples import sample_savings
from eexit.reporting.stats import mean_interval, two_level_interval, verdict

ROOT = Path(__file__).resolve().parents[1]
RULES = ("in_sample", "rate_matched", "cross_fit", "soft")


def dataset_overrides(name: str, out: Path) -> list[str]:
    if name != "photos":
        return [f"data={name}"]
    folder = out / "photo-folder"
    if not (folder / "test").is_dir():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "photo_folder.py"), str(folder)], check=True)
    return ["data=imagefolder", f"data.root={folder}"]


def run_sweep(name: str, out: Path, seeds: str, extra: list[str]) -> Path:
    sweep = out / name
    if not (sweep / "summary.json").is_file():
        cmd = [sys.executable, str(ROOT / "run.py"), "-m", *dataset_overrides(name, out),
               f"method.boosted.survivors={','.join(RULES)}", f"seed={seeds}", "logger=none",
               f"cache_dir={out / 'cache'}", f"hydra.sweep.dir={sweep}", *extra]
        print(" ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
    return sweep


def survivors_of(run: dict) -> str:
    return next(o.split("=", 1)[1] for o in run["overrides"] if o.startswith("method.boosted.survivors="))


def qualifying(run: dict, regime: str, drop: str, split: str) -> dict | None:
    """The headline point within ``drop`` when it saves compute on ``split`` (``None``: none qualifies, never 0)."""
    point = ((run.get("regimes") or {}).get(regime) or {}).get("headline", {}).get(drop)
    key = "val_cost_reduction" if split == "val" else "cost_reduction"
    return point if point is not None and point[key] > 0 else None


def paired(runs: list[dict], drop: str, split: str) -> dict:
    """Boosted − non-boosted saving on ``split``, paired by seed and image: mean, two-level bootstrap interval
    (seeds, then images; docs/evidence.md) and verdict, over the seeds where both qualify."""
    pairs = [(sample_savings(a, split), sample_savings(b, split)) for r in runs
             if (a := qualifying(r, "boosted", drop, split)) and (b := qualifying(r, "nonboosted", drop, split))]
    out = {"seeds": f"{len(pairs)} of {len(runs)}", "mean_pt": None, "low_pt": None, "high_pt": None, "verdict": "–"}
    if pairs and all(x is not None and y is not None for x, y in pairs):
        low, high = two_level_interval([x - y for x, y in pairs])
        out.update(mean_pt=round(100 * float(np.mean([np.mean(x - y) for x, y in pairs])), 1),
                   low_pt=round(100 * low, 1), high_pt=round(100 * high, 1),
                   verdict=verdict({"low": low, "high": high}) if len(pairs) >= 2 else "single seed")
    return out


def diff_cell(d: dict) -> str:
    if d["mean_pt"] is None:
        return f"– ({d['seeds']})"
    return f"{d['mean_pt']:+.1f} [{d['low_pt']:+.1f}, {d['high_pt']:+.1f}] {d['verdict']} ({d['seeds']})"


def pools(runs: list[dict]) -> str:
    """Each boosted head's training pool as a share of the training set, mean over seeds."""
    stages = [r["regimes"]["boosted"]["method"].get("stages", []) for r in runs]
    total = [s[0]["train_pool"] for s in stages]
    cols = []
    for k in range(1, min(len(s) for s in stages)):
        shares = [s[k]["train_pool"] / n if s[k]["trained"] else 0.0 for s, n in zip(stages, total)]
        cols.append(f"{100 * sum(shares) / len(shares):.1f}")
    return " / ".join(cols)


def measure(out: Path, names: list[str]) -> dict:
    """Per dataset and rule: validation (what decides) and test (the check) differences at ≤ 1 and ≤ 2 points."""
    values: dict = {}
    for name in names:
        runs = load_runs(out / name)
        for rule in RULES:
            rs = [r for r in runs if survivors_of(r) == rule]
            if rs:
                saved = [p["val_cost_reduction"] for r in rs if (p := qualifying(r, "boosted", "drop_1pt", "val"))]
                values.setdefault(name, {})[rule] = {
                    "seeds": len(rs), "backbone_val_acc_pct": round(100 * mean_interval([r["backbone_val_acc"]
                                                                                          for r in rs])["mean"], 1),
                    "boosted_val_saved_drop_1pt_pct": round(100 * mean_interval(saved)["mean"], 1) if saved else None,
                    **{f"{split}_{drop}": paired(rs, drop, split) for split in ("val", "test")
                       for drop in ("drop_1pt", "drop_2pt")}, "pools": pools(rs)}
    return values


def table(values: dict) -> str:
    lines = ["| data | backbone val acc. | rule | seeds | val: saved ≤1 pt, boosted | val: Δ saved ≤1 pt | "
             "val: Δ saved ≤2 pt | test: Δ saved ≤1 pt | test: Δ saved ≤2 pt | heads 1 / 2 pool (% of train) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, rule, v in ((n, r, v) for n, rules in values.items() for r, v in rules.items()):
        saved = v["boosted_val_saved_drop_1pt_pct"]
        cells = [name, f"{v['backbone_val_acc_pct']:.1f}", rule, str(v["seeds"]), "–" if saved is None else f"{saved:.1f}",
                 *(diff_cell(v[f"{split}_{drop}"]) for split in ("val", "test") for drop in ("drop_1pt", "drop_2pt")),
                 v["pools"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "local" / "survivors")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--datasets", default="digits,distorted_digits,photos")
    p.add_argument("--record", action="store_true", help="write docs/records/survivors.json")
    p.add_argument("overrides", nargs="*", help="key=value for every job")
    a = p.parse_args(argv)
    names = a.datasets.split(",")
    for name in names:
        run_sweep(name, a.out.resolve(), a.seeds, a.overrides)
    values = measure(a.out, names)
    text = f"{environment()}\n\n{table(values)}"
    (a.out / "survivors.md").write_text(text + "\n")
    if a.record:
        write_record("survivors", f"python benchmarks/survivors.py --record --datasets {a.datasets}", values)
    print(text)


if __name__ == "__main__":
    main()
