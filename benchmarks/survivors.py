"""BTS-EE's survivor rules measured: boosted against non-boosted, 3 seeds, on three datasets.

For each dataset, one sweep over ``method.boosted.survivors`` x ``seed`` (every job trains both
regimes on the same frozen backbone, so boosted - non-boosted is paired by seed); the sweep's own
summary (``summary.json``: mean, 95 % t-interval and verdict per configuration) is then condensed
into one markdown table.

    python benchmarks/survivors.py [--out benchmarks/local/survivors] [--seeds 0,1,2]
        [--datasets digits,distorted_digits,photos] [key=value ...]   (make bench-survivors)

Extra ``key=value`` overrides go to every job (a test uses them to shrink the budgets).
``photos`` is the image folder written by ``benchmarks/photo_folder.py`` (real photo crops). A
sweep that has finished is not run again (its summary is read); an unfinished one resumes.
About 30 minutes on 2 CPU cores for the three datasets and 3 seeds.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from eexit.reporting.aggregate import load_runs
from eexit.reporting.stats import mean_interval, paired_verdict

ROOT = Path(__file__).resolve().parents[1]
RULES = ("in_sample", "rate_matched", "cross_fit", "soft")
BUDGETS = (0.25, 0.5, 0.75)


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


def saving(run: dict, regime: str, drop: str) -> float:
    point = run["regimes"][regime]["headline"].get(drop)
    return 0.0 if point is None else point["cost_reduction"]


def acc_at(run: dict, regime: str, budget: float) -> float | None:
    return next((row["test_acc"] for row in run["regimes"][regime]["cost_table"] if row["budget"] == budget), None)


def diff_cell(runs: list[dict], value) -> str:
    """Paired boosted − non-boosted, in points: mean [95 % interval] verdict (seeds where both have a value)."""
    a, b = ({r["seed"]: v for r in runs if (v := value(r, g)) is not None} for g in ("boosted", "nonboosted"))
    if not set(a) & set(b):
        return "–"
    d = paired_verdict(a, b)
    if d["low"] is None:
        return f"{100 * d['mean']:+.1f} ({d['verdict']})"
    return f"{100 * d['mean']:+.1f} [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}] {d['verdict']}"


def mean_cell(values: list[float]) -> str:
    m = mean_interval(values)
    return f"{100 * m['mean']:.1f}" if m["low"] is None else f"{100 * m['mean']:.1f} ± {100 * (m['high'] - m['mean']):.1f}"


def pools(runs: list[dict]) -> str:
    """Each boosted head's training pool as a share of the training set, mean over seeds."""
    stages = [r["regimes"]["boosted"]["method"].get("stages", []) for r in runs]
    total = [s[0]["train_pool"] for s in stages]
    cols = []
    for k in range(1, min(len(s) for s in stages)):
        shares = [s[k]["train_pool"] / n if s[k]["trained"] else 0.0 for s, n in zip(stages, total)]
        cols.append(f"{100 * sum(shares) / len(shares):.1f}")
    return " / ".join(cols)


def table(out: Path, names: list[str]) -> str:
    lines = ["| data | backbone acc. | rule | seeds | saved ≤1 pt, boosted | Δ saved ≤1 pt | saved ≤2 pt, boosted | "
             "Δ saved ≤2 pt | Δ acc. at 25 % | Δ acc. at 50 % | Δ acc. at 75 % | heads 1 / 2 pool (% of train) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        runs = load_runs(out / name)
        for rule in RULES:
            rs = [r for r in runs if survivors_of(r) == rule]
            if not rs:
                continue
            cells = [name, mean_cell([r["backbone_test_acc"] for r in rs]), rule, str(len(rs)),
                     mean_cell([saving(r, "boosted", "drop_1pt") for r in rs]),
                     diff_cell(rs, lambda r, g: saving(r, g, "drop_1pt")),
                     mean_cell([saving(r, "boosted", "drop_2pt") for r in rs]),
                     diff_cell(rs, lambda r, g: saving(r, g, "drop_2pt")),
                     *(diff_cell(rs, lambda r, g, b=b: acc_at(r, g, b)) for b in BUDGETS), pools(rs)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "local" / "survivors")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--datasets", default="digits,distorted_digits,photos")
    p.add_argument("overrides", nargs="*", help="key=value for every job")
    a = p.parse_args(argv)
    names = a.datasets.split(",")
    for name in names:
        run_sweep(name, a.out.resolve(), a.seeds, a.overrides)
    text = table(a.out, names)
    (a.out / "survivors.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
