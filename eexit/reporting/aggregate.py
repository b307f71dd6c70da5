"""Summarise a multirun folder: one row per configuration, both BTS-EE modes, plots.

Reads every ``<sweep>/<job>/results.json`` and writes, into the sweep folder,
``summary.csv``, ``summary.md`` (per configuration the cost reduction at <= 1/2/5
points for boosted and non-boosted, and who wins), ``fronts.png`` (both modes'
Pareto fronts, every configuration) and ``wins.png``.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path

from eexit.jobs import FAILED_IN_SWEEP
from eexit.reporting.sweep_figures import SKIP, plot_fronts, plot_wins, regime_label

log = logging.getLogger(__name__)
DROPS = ("drop_1pt", "drop_2pt", "drop_5pt")


def load_runs(sweep_dir: Path) -> list[dict]:
    runs = []
    for path in sorted(Path(sweep_dir).glob("*/results.json"), key=lambda p: (len(p.parent.name), p.parent.name)):
        r = json.loads(path.read_text())
        r["_job"] = path.parent.name
        runs.append(r)
    return runs


def config_label(run: dict, common: set[str] = frozenset()) -> str:
    """The overrides that set this job apart (those shared by every job are left out)."""
    parts = [o for o in run.get("overrides", []) if not o.startswith(SKIP) and o not in common]
    return " ".join(parts) or run["_job"]


def reduction(run: dict, regime: str, drop: str):
    point = ((run.get("headlines") or {}).get(regime) or {}).get(drop)
    return None if point is None else point["cost_reduction"]


def configured(reg: dict) -> str | None:
    """The configured operating point: ``96.7% @ 0.41`` (test accuracy at a cost fraction)."""
    p = reg.get("operating_point")
    return None if p is None else f"{100 * p['test_acc']:.1f}% @ {p['cost_fraction']:.2f}"


def regime_rows(runs: list[dict]) -> list[dict]:
    """One row per (job, regime): cost reduction at <= 1/2/5 points, best test accuracy, configured point."""
    rows = []
    for r in runs:
        for name, reg in (r.get("regimes") or {}).items():
            best = max((p["test_acc"] for p in reg.get("curve", [])), default=None)
            rows.append({"job": r["_job"], "regime": regime_label(name, reg),
                         **{d: reduction(r, name, d) for d in DROPS}, "best_test_acc": best,
                         "configured": configured(reg)})
    return rows


def rows_of(runs: list[dict]) -> list[dict]:
    rows = []
    common = set.intersection(*(set(r.get("overrides", [])) for r in runs)) if len(runs) > 1 else set()
    for r in runs:
        row = {"job": r["_job"], "config": config_label(r, common), "method": r.get("method"),
               "backbone_test_acc": r.get("backbone_test_acc")}
        regimes = list((r.get("headlines") or {}).keys())
        for regime in regimes:
            for drop in DROPS:
                row[f"{regime}_{drop}"] = reduction(r, regime, drop)
            row[f"{regime}_configured"] = configured(r["regimes"][regime])
        if {"boosted", "nonboosted"} <= set(regimes):
            b, n = reduction(r, "boosted", "drop_2pt"), reduction(r, "nonboosted", "drop_2pt")
            row["boosted_wins_2pt"] = None if b is None and n is None else (b or 0.0) > (n or 0.0)
        rows.append(row)
    return rows


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{100 * v:.1f}%"  # a negative cost reduction is a cost increase
    return str(v)


def write_tables(rows: list[dict], sweep_dir: Path, per_regime: list[dict], failed: dict[str, str],
                 missing: list[str]) -> tuple[Path, Path, dict]:
    columns = sorted({k for row in rows for k in row}, key=lambda k: (k not in ("job", "config"), k))
    csv_path = sweep_dir / "summary.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(csv_path, buffer.getvalue())
    decided = [r["boosted_wins_2pt"] for r in rows if r.get("boosted_wins_2pt") is not None]
    stats = {"configurations": len(rows), "compared": len(decided), "boosted_wins": sum(decided),
             "failed": len(failed), "missing": len(missing)}
    md = [f"# Sweep summary: {sweep_dir}", "",
          f"{len(rows)} configurations. Cost reduction (share of backbone MACs saved) at the largest saving "
          "whose test accuracy stays within 2 points of the backbone (— = no operating point within 2 points; "
          "negative = more compute than the backbone), and each regime's configured operating point "
          "(test accuracy @ cost fraction).", ""]
    if failed or missing:
        md += [f"**Incomplete: {len(failed)} failed, {len(missing)} missing** (missing: killed or never started; "
               f"rerun the same command with `hydra.sweep.dir={sweep_dir}` to run only those)."]
        md += [f"- job {job} failed: {reason}" for job, reason in sorted(failed.items(), key=lambda x: int(x[0]))]
        md += [f"- job {job} missing" for job in missing] + [""]
    if decided:
        md += [f"**Boosted wins {stats['boosted_wins']} of {stats['compared']}** configurations at ≤ 2 points.", ""]
    show = ["job", "config"] + [c for c in columns if c.endswith(("drop_2pt", "_configured"))] + \
           (["boosted_wins_2pt"] if decided else [])
    md.append("| " + " | ".join(show) + " |")
    md.append("|" + "---|" * len(show))
    for row in rows:
        md.append("| " + " | ".join(fmt(row.get(c)) for c in show) + " |")
    md += ["", "## Every regime", "", "| job | regime | ≤ 1 pt | ≤ 2 pt | ≤ 5 pt | best test acc | configured |",
           "|---|---|---|---|---|---|---|"]
    md += [f"| {x['job']} | {x['regime']} | " + " | ".join(fmt(x[d]) for d in DROPS)
           + f" | {fmt(x['best_test_acc'])} | {fmt(x['configured'])} |" for x in per_regime]
    md_path = sweep_dir / "summary.md"
    atomic_write(md_path, "\n".join(md) + "\n")
    return csv_path, md_path, stats


def expected_jobs(sweep_dir: Path) -> int | None:
    """How many jobs the sweep launches, from its ``multirun.yaml`` with Hydra's own parser and
    sweeper (sweep-config parameters, then the command line); None when the folder has none."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf
    cfg = OmegaConf.load(path)
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items()]
    overrides = OverridesParser.create().parse_overrides(params + list(cfg.hydra.overrides.task))
    return sum(len(batch) for batch in BasicSweeper.split_arguments(overrides, None))


def job_status(sweep_dir: Path, runs: list[dict]) -> tuple[dict[str, str], list[str]]:
    """``({failed job: reason}, [missing jobs])``: a missing job has neither results nor ``FAILED``
    (killed, or not started)."""
    failed = {p.parent.name: p.read_text().strip() for p in sweep_dir.glob("*/FAILED")}
    done = {r["_job"] for r in runs} | set(failed)
    expected = expected_jobs(sweep_dir)
    known = {p.name for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()}
    if expected is not None:
        known |= {str(i) for i in range(expected)}
    return failed, sorted(known - done, key=int)


def aggregate(sweep_dir: str | Path) -> dict:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no folder {sweep_dir}; point at a multirun folder")
    runs = load_runs(sweep_dir)
    failed, missing = job_status(sweep_dir, runs)
    if not runs and not failed:
        raise FileNotFoundError(f"no */results.json under {sweep_dir}; point at a multirun folder")
    rows = rows_of(runs) if runs else []
    csv_path, md_path, stats = write_tables(rows, sweep_dir, regime_rows(runs), failed, missing)
    if runs:
        plot_fronts(runs, sweep_dir)
        plot_wins(rows, sweep_dir)
    summary = {**stats, "failed_jobs": sorted(failed, key=int), "missing_jobs": missing,
               "csv": str(csv_path), "markdown": str(md_path)}
    atomic_write(sweep_dir / "summary.json", json.dumps({"stats": summary, "failed": failed, "rows": rows}, indent=2))
    return summary


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class AggregateOnMultirunEnd:
    """Hydra callback: aggregate the sweep folder when a multirun finishes."""

    def on_multirun_end(self, config, **kwargs) -> None:
        try:
            s = aggregate(config.hydra.sweep.dir)
            FAILED_IN_SWEEP[:] = [str(Path(config.hydra.sweep.dir) / str(j)) for j in s["failed_jobs"]]
            print(f"[eexit] sweep summary: {s['markdown']} ({s['configurations']} configurations"
                  + (f", boosted wins {s['boosted_wins']} of {s['compared']}" if s["compared"] else "")
                  + (f"; {s['failed']} failed, {s['missing']} missing" if s["failed"] or s["missing"] else "") + ")")
            from eexit.reporting.wandb_sweep import sweep_dashboard
            sweep_dashboard(config, s)
        except FileNotFoundError as exc:
            log.warning("no sweep summary: %s", exc)

    def __getattr__(self, name):  # the other Hydra callback hooks: nothing to do
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)
