"""Summarise a sweep: ``eexit aggregate <folder> [--wandb-group G]``.

Writes summary.csv, summary.md, summary.json, fronts.png and wins.png into the folder
from its ``<job>/results.json`` files (run automatically at the end of every
``eexit -m ...``). With ``--wandb-group G`` it first downloads the
``results.json`` that every run of that W&B group saved into ``<folder>/<run name>/``
(needs network and credentials; folders that already hold one are kept), so a sweep
run elsewhere, or on several machines, is summarised the same way.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eexit.errors import EExitError


def pull_wandb_group(group: str, project: str, out_dir: Path, api=None) -> tuple[list[str], list[str]]:
    """Download each run's saved ``results.json`` into ``out_dir/<run name>/``.
    Returns ``(pulled, skipped)`` folder names; a run without the file (failed, or from
    before results were saved) is skipped, a folder that already has one is kept."""
    if api is None:
        import wandb
        api = wandb.Api()
    runs = list(api.runs(project, filters={"group": group}))
    names = [r.name for r in runs]
    pulled, skipped = [], []
    for run in runs:
        folder = out_dir / (run.name if names.count(run.name) == 1 else f"{run.name}-{run.id}")
        if (folder / "results.json").exists():
            skipped.append(folder.name)
            continue
        try:
            run.file("results.json").download(root=str(folder), replace=False)
            pulled.append(folder.name)
        except Exception as exc:  # noqa: BLE001 - the API raises several kinds for a missing file
            print(f"[eexit] {run.name}: no results.json in W&B ({exc}); skipped", file=sys.stderr)
            skipped.append(folder.name)
    return pulled, skipped


def main(argv: list[str] | None = None, api=None) -> int:
    from eexit.reporting.aggregate import aggregate   # plots and statistics: not for --help
    parser = argparse.ArgumentParser(prog="eexit aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a multirun folder holding <job>/results.json (created for --wandb-group)")
    parser.add_argument("--wandb-group", help="first download this W&B group's results.json files (needs network)")
    parser.add_argument("--wandb-project", default="eexit", help="W&B project, as entity/project or project")
    args = parser.parse_args(argv)
    sweep_dir = Path(args.sweep_dir)
    if args.wandb_group:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        pulled, kept = pull_wandb_group(args.wandb_group, args.wandb_project, sweep_dir, api)
        print(f"[eexit] W&B group {args.wandb_group}: {len(pulled)} results downloaded, {len(kept)} kept or skipped")
    try:
        summary = aggregate(sweep_dir)
    except (FileNotFoundError, EExitError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(Path(summary["markdown"]).read_text())
    return 0
