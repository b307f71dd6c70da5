#!/usr/bin/env python
"""Summarise a multirun folder: ``python sweeps/aggregate.py multirun/<date>/<time> [--wandb-group G]``.

Writes summary.csv, summary.md, summary.json, fronts.png and wins.png into the folder
(run automatically at the end of every ``python run.py -m ...``). With
``--wandb-group`` it also pulls that group's runs from W&B (online) and lists them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eexit.reporting.aggregate import aggregate  # noqa: E402


def wandb_group_rows(group: str, project: str) -> list[dict]:
    import wandb
    api = wandb.Api()
    return [{"name": r.name, **{k: v for k, v in r.summary.items() if "cost_reduction" in k}}
            for r in api.runs(project, filters={"group": group})]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a multirun folder holding <job>/results.json")
    parser.add_argument("--wandb-group", help="also list the runs of this W&B group (needs network)")
    parser.add_argument("--wandb-project", default="eexit")
    args = parser.parse_args()
    try:
        summary = aggregate(args.sweep_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(Path(summary["markdown"]).read_text())
    if args.wandb_group:
        for row in wandb_group_rows(args.wandb_group, args.wandb_project):
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
