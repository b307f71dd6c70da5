#!/usr/bin/env python
"""Do certified exits keep their promise? (``make bench-risk``)

Takes a finished run's stored exit outputs (``<run>/exit_outputs/<regime>.pt``; no retraining) and, for δ in
{0.5, 1, 2} points and α in {0.05, 0.1}, certifies the accuracy gap on a random half of the test images and
measures it on the other half, ``--draws`` times; beside it, the validation-selected headline at the same δ.
Without ``--run`` it makes the default run first (``eexit``, about 9 minutes on 2 CPU cores). ``--shift`` also
trains on ``digits`` and certifies there, then measures on ``distorted_digits``: the guarantee is not expected to
hold under such a shift, and the table shows what happens.

    python benchmarks/risk.py [--run outputs/<date>/<time>] [--draws 200] [--shift] [--record]

Writes benchmarks/local/RESULTS-risk.md (``--record``: benchmarks/RESULTS-risk.md and docs/records/risk.json).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from eexit.bench.records import environment, results_file, write_record  # noqa: E402
from eexit.bench.risk import resplits, table, validated_setting  # noqa: E402
from eexit.exits import CachedExits  # noqa: E402
from eexit.files.torch_files import load_tensors  # noqa: E402
from eexit.reporting.results_file import Results  # noqa: E402

DELTAS, ALPHAS = (0.5, 1.0, 2.0), (0.05, 0.1)


def make_run(folder: Path, *overrides: str) -> Path:
    if not (folder / "results.json").is_file():
        subprocess.run([sys.executable, "-m", "eexit", "logger=none", "trainer.enable_progress_bar=false",
                        f"hydra.run.dir={folder}", *overrides], cwd=ROOT, check=True)
    return folder


def outputs(run: Path, regime: str) -> tuple[CachedExits, CachedExits]:
    saved = load_tensors(run / "exit_outputs" / f"{regime}.pt", "exit outputs")
    return tuple(CachedExits(s["logits"], s["confidences"], s["labels"]) for s in (saved["val"], saved["test"]))


def regimes(run: Path):
    """``(name, calibrator, val, test, cost fractions)`` of every regime of the run."""
    calib = instantiate(OmegaConf.load(run / ".hydra" / "config.yaml").calibrator)
    for name, record in (Results.read(run / "results.json").regimes or {}).items():
        val, test = outputs(run, name)
        point = next(p for p in record["headline"].values() if p)
        yield name, calib, val, test, torch.tensor(point["exit_costs"])


def shifted_outputs(run: Path, regime: str) -> CachedExits:
    """The digits-trained network's exit outputs on distorted_digits' test images (normalised as it was trained)."""
    from eexit.data import DistortedDigitsDataModule
    from eexit.deploy.checkpoint import load_exit_checkpoint
    from eexit.training.predict import predict_exits
    ck = load_exit_checkpoint(run / "checkpoints" / f"{regime}.pt")
    dm = DistortedDigitsDataModule(root=str(ROOT / "data" / "digits"), mean=ck.data["mean"], std=ck.data["std"])
    return predict_exits(ck.net, dm.loader("test"), "cpu")


def rows_for(name: str, calib, val, test, fractions, draws: int, shifted=None) -> list[dict]:
    measured = table(shifted if shifted is not None else test, calib, val, fractions, "accuracy_gap")
    source = table(test, calib, val, fractions, "accuracy_gap") if shifted is not None else None
    return [{"regime": name, **resplits(measured, validated_setting(calib, val, fractions, d), d, a, draws,
                                         calibrate=source)} for d in DELTAS for a in ALPHAS]


def markdown(title: str, rows: list[dict]) -> list[str]:
    out = [f"### {title}", "", "| regime | δ (pt) | α | certified: breaks δ on test [95 % CI] | validation-selected: "
           "breaks δ [95 % CI] | saved, certified | saved, validation-selected | re-splits that certify an exit |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ci, vi = r["certified_interval"], r["validated_interval"]
        out.append(f"| {r['regime']} | {r['delta_pt']:g} | {r['alpha']:g} | {100 * r['certified_violations']:.1f} % "
                   f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] | {100 * r['validated_violations']:.1f} % "
                   f"[{100 * vi[0]:.1f}, {100 * vi[1]:.1f}] | {100 * r['certified_saving']:.1f} % | "
                   f"{100 * r['validated_saving']:.1f} % | {100 * r['certified_exits_share']:.0f} % |")
    return out + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a finished run folder (default: make the default run)")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--shift", action="store_true", help="also certify on digits and test on distorted_digits")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args(argv)
    run = args.run or make_run(ROOT / "benchmarks" / "local" / "risk" / "default")
    same = [row for regime in regimes(run) for row in rows_for(*regime, args.draws)]
    lines = ["## Certified exits on re-splits of the test images", "",
             f"`python benchmarks/risk.py --draws {args.draws}{' --shift' if args.shift else ''}`; run {run}; "
             f"{environment()}. Accuracy gap, each re-split certifying on half of the test images and measuring on "
             "the other half.", ""] + markdown("Calibrated and tested on the same data", same)
    values = {"same": same}
    if args.shift:
        digits = make_run(ROOT / "benchmarks" / "local" / "risk" / "digits", "data=digits")
        shifted = [row for name, calib, val, test, fr in regimes(digits)
                   for row in rows_for(name, calib, val, test, fr, args.draws, shifted_outputs(digits, name))]
        lines += markdown("Calibrated on digits, tested on distorted_digits (a shift: no guarantee)", shifted)
        values["shift"] = shifted
    out = results_file("RESULTS-risk.md", args.record)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    if args.record:
        flat = {f"{r['regime']}_d{r['delta_pt']:g}_a{r['alpha']:g}".replace(".", "_"): r for r in same}
        flat.update({f"shift_{r['regime']}_d{r['delta_pt']:g}_a{r['alpha']:g}".replace(".", "_"): r
                     for r in values.get("shift", [])})
        print(f"recorded: {write_record('risk', 'python benchmarks/risk.py --shift --record', flat)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
