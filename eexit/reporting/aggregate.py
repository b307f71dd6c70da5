"""Summarise a multirun folder: one row per configuration (its seeds together), statistics, plots.

Reads every ``<sweep>/<job>/results.json`` and writes, into the sweep folder, ``summary.csv``
(one row per configuration: mean and 95 % interval of every headline over seeds, the paired
difference of the compared regimes with its verdict, the cost-fraction table), ``summary.md``,
``summary.json`` (statistics, rows, failed jobs), ``fronts.png`` (Pareto fronts with the seed band)
and ``wins.png`` (the paired difference per configuration with its interval).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from eexit.files.atomic import atomic_write
from eexit.reporting.configurations import comparison_family, configuration_rows, constraint_check, verdict_counts
from eexit.reporting.grid import grid_jobs
from eexit.reporting.results_file import Results
from eexit.reporting.summary_markdown import markdown
from eexit.reporting.sweep_figures import plot_fronts, plot_wins


def load_runs(sweep_dir: Path) -> list[dict]:
    runs = []
    for path in sorted(Path(sweep_dir).glob("*/results.json"), key=lambda p: (len(p.parent.name), p.parent.name)):
        r = Results.read(path).to_dict()   # one line when damaged, foreign or of a newer format
        r["_job"] = path.parent.name
        runs.append(r)
    return runs


def write_tables(rows: list[dict], runs: list[dict], sweep_dir: Path, failed: dict[str, str],
                 missing: list[str]) -> tuple[Path, Path, dict]:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    csv_path = sweep_dir / "summary.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(csv_path, buffer.getvalue())
    counts, family = verdict_counts(rows), comparison_family(rows, runs)
    stats = {"configurations": len(rows), "jobs": len(runs), "compared": sum(counts.values()),
             **{k.replace(" ", "_"): v for k, v in counts.items()},
             **{f"{k.replace(' ', '_')}_holm": v for k, v in family["holm"].items()},
             "distinct_baselines": family["distinct_baselines"], "backbones": family["backbones"],
             "limits_on_test": constraint_check(runs), "failed": len(failed), "missing": len(missing)}
    md_path = sweep_dir / "summary.md"
    atomic_write(md_path, markdown(sweep_dir, rows, runs, failed, missing))
    return csv_path, md_path, stats


def expected_jobs(sweep_dir: Path) -> int | None:
    """How many jobs the sweep launches, from its ``multirun.yaml`` (``eexit.cli.jobs.grid_jobs``: Hydra's own
    parser and sweeper); None when the folder has none or the sweeper has no fixed grid."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    from omegaconf import OmegaConf
    jobs = grid_jobs(OmegaConf.load(path))
    return None if jobs is None else len(jobs)


def in_grid(job: str, expected: int) -> bool:
    """A numbered job folder beyond the current grid is left over from an earlier, larger run of the sweep."""
    return not job.isdigit() or int(job) < expected


def job_status(sweep_dir: Path, runs: list[dict], expected: int | None) -> tuple[dict[str, str], list[str]]:
    """``({failed job: reason}, [missing jobs])`` within the ``expected`` jobs of the grid (``None``: no fixed
    grid): a missing job has neither results nor ``FAILED`` (killed, or not started)."""
    failed = {p.parent.name: p.read_text().strip() for p in sweep_dir.glob("*/FAILED")
              if expected is None or in_grid(p.parent.name, expected)}
    done = {r["_job"] for r in runs} | set(failed)
    known = {p.name for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()
             and (expected is None or in_grid(p.name, expected))}
    if expected is not None:
        known |= {str(i) for i in range(expected)}
    return failed, sorted(known - done, key=int)


def aggregate(sweep_dir: str | Path) -> dict:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no folder {sweep_dir}; point at a multirun folder")
    runs, expected = load_runs(sweep_dir), expected_jobs(sweep_dir)
    stale = sorted((r["_job"] for r in runs if expected is not None and not in_grid(r["_job"], expected)), key=int)
    runs = [r for r in runs if r["_job"] not in stale]   # the summary covers exactly the current grid
    failed, missing = job_status(sweep_dir, runs, expected)
    if not runs and not failed:
        raise FileNotFoundError(f"no */results.json under {sweep_dir}; point at a multirun folder")
    rows = configuration_rows(runs) if runs else []
    csv_path, md_path, stats = write_tables(rows, runs, sweep_dir, failed, missing)
    if runs:
        plot_fronts(runs, sweep_dir)
        plot_wins(rows, sweep_dir)
    summary = {**stats, "failed_jobs": sorted(failed, key=int), "missing_jobs": missing, "stale_jobs": stale,
               "csv": str(csv_path), "markdown": str(md_path)}
    atomic_write(sweep_dir / "summary.json", json.dumps({"stats": summary, "failed": failed, "rows": rows}, indent=2))
    return summary
