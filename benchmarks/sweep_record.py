#!/usr/bin/env python
"""A finished sweep's verdicts as a record the docs cite (``docs/records/<name>.json``).

    python benchmarks/sweep_record.py <sweep folder> <name> --command "<the command that ran the sweep>"
        [--seconds <its wall time>]

Reads the sweep's own ``summary.json`` (written by the aggregator at the end of every multirun, or by ``eexit
aggregate <folder>``): how many configurations and distinct comparisons, the verdict counts raw and after Holm's
adjustment, the baselines and backbones they share, and how often a headline chosen on validation broke its limit
on test; plus the mean paired difference over the configurations at each drop. The sweep's command goes into the
record as given (the record says what measured the numbers; this script only reads them).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eexit.bench.records import write_record  # noqa: E402

DROPS = ("drop_1pt", "drop_2pt", "drop_5pt")


def values_of(summary: dict, seconds: float | None) -> dict:
    stats, rows = summary["stats"], summary["rows"]
    out = {key: stats[key] for key in ("configurations", "jobs", "compared", "better", "worse", "indistinguishable",
                                       "better_holm", "worse_holm", "distinct_baselines", "backbones", "failed")}
    for drop in DROPS:
        diffs = [r[f"diff_{drop}"] for r in rows if r.get(f"diff_{drop}") is not None]
        verdicts = [r.get(f"verdict_{drop}") for r in rows]
        limits = stats["limits_on_test"][drop]
        out[drop] = {"better": verdicts.count("better"), "worse": verdicts.count("worse"),
                     "indistinguishable": verdicts.count("indistinguishable"),
                     "mean_diff_pt": round(100 * statistics.fmean(diffs), 1) if diffs else None,
                     "headlines": limits["headlines"], "violated_on_test": limits["violated"],
                     "violated_pct": round(100 * limits["violated"] / max(1, limits["headlines"])),
                     "mean_excess_pt": round(limits["mean_excess_pt"], 2) if limits["mean_excess_pt"] is not None
                     else None, "worst_excess_pt": round(limits["worst_excess_pt"], 2)
                     if limits["worst_excess_pt"] is not None else None}
    if seconds is not None:
        out["seconds"] = round(seconds)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep", type=Path)
    p.add_argument("name")
    p.add_argument("--command", required=True, help="the command that ran the sweep")
    p.add_argument("--seconds", type=float, help="its wall time")
    a = p.parse_args(argv)
    summary = a.sweep / "summary.json"
    if not summary.is_file():
        print(f"error: {summary} not found: run the sweep to its end, or `eexit aggregate {a.sweep}`", file=sys.stderr)
        sys.exit(2)
    values = values_of(json.loads(summary.read_text()), a.seconds)
    path = write_record(a.name, a.command, values)
    print(json.dumps(values, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
