"""A sweep's W&B dashboard: one summary run in the sweep's group that holds every configuration's
trade-off curve together (the per-job runs each hold only their own).

The run logs ``sweep/points`` (every job x regime x operating point, with the configuration's
label), a line chart of accuracy against compute with one line per configuration and regime,
``sweep/summary`` (one row per configuration: means, 95 % intervals over seeds, paired verdicts,
the cost-fraction table; the counts of verdicts in the run summary) and the ``fronts.png``/``wins.png`` figures. Offline it lands in
``<sweep>/wandb/offline-run-*`` for ``wandb sync``.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)
POINT_COLUMNS = ["job", "config", "seed", "regime", "line", "setting", "cost_fraction", "test_acc", "agreement",
                 "configured"]


def point_rows(runs: list[dict], labels: dict[str, str]) -> list[list]:
    """One row per (job, regime, operating point); ``line`` names the curve it belongs to."""
    rows = []
    for r in runs:
        config = labels.get(r["_job"], r["_job"])
        for regime, reg in (r.get("regimes") or {}).items():
            chosen = (reg.get("operating_point") or {}).get("setting")
            for p in reg.get("curve", []):
                s = p["setting"]
                setting = s if isinstance(s, str) or math.isfinite(s) else str(s)
                seed = "" if r.get("seed") is None else f" | seed {r['seed']}"
                rows.append([r["_job"], config, r.get("seed"), regime, f"{config}{seed} | {regime}",
                             str(setting), p["cost_fraction"], p["test_acc"], p["agreement"], s == chosen])
    return rows


def log_sweep_summary(sweep_dir: Path, runs: list[dict], rows: list[dict], stats: dict, group: str | None,
                      project: str = "eexit", entity: str | None = None, mode: str = "auto") -> Path | None:
    """Log the sweep's summary run; returns its local folder (None when W&B is disabled)."""
    from eexit.reporting.loggers import share_package_list, wandb_mode
    mode = wandb_mode(mode)
    if mode == "disabled" or not runs:
        return None
    import wandb
    share_package_list(wandb)
    sweep_dir = Path(sweep_dir)
    labels = {job: row["config"] for row in rows for job in row["jobs"].split()}
    run = wandb.init(project=project, entity=entity or None, group=group or None, job_type="sweep-summary",
                     name=f"{group or sweep_dir.name}-summary", dir=str(sweep_dir), mode=mode,
                     settings=wandb.Settings(silent=True), config={"sweep_dir": str(sweep_dir.resolve())})
    try:
        points = wandb.Table(columns=POINT_COLUMNS, data=point_rows(runs, labels))
        columns = sorted({k for row in rows for k in row})
        summary = wandb.Table(columns=columns, data=[[row.get(c) for c in columns] for row in rows])
        lines = sorted({row[4] for row in points.data})
        curves = {name: sorted((r[6], r[7]) for r in points.data if r[4] == name) for name in lines}
        run.log({"sweep/points": points, "sweep/summary": summary,
                 "sweep/tradeoff": wandb.plot.line_series(xs=[[x for x, _ in curves[n]] for n in lines],
                                                          ys=[[y for _, y in curves[n]] for n in lines], keys=lines,
                                                          title="accuracy vs compute, every configuration",
                                                          xname="cost fraction")})
        for figure in ("fronts.png", "wins.png"):
            if (sweep_dir / figure).is_file():
                run.log({f"sweep/{figure[:-4]}": wandb.Image(str(sweep_dir / figure))})
        run.summary.update({k: v for k, v in stats.items() if isinstance(v, (int, float))})
        folder = Path(run.dir).parent
    finally:
        run.finish()
    return folder


def sweep_dashboard(config, summary: dict) -> None:
    """Hydra's multirun end, ``logger=wandb`` (the default): the sweep's summary run in its W&B group."""
    wb = (config.get("logger") or {}).get("wandb")
    if not wb:
        return
    from eexit.reporting.aggregate import load_runs
    sweep_dir = Path(config.hydra.sweep.dir)
    rows = json.loads((sweep_dir / "summary.json").read_text())["rows"]
    try:
        folder = log_sweep_summary(sweep_dir, load_runs(sweep_dir), rows, summary, config.get("group"),
                                   wb.get("project", "eexit"), wb.get("entity"), wb.get("mode", "auto"))
    except Exception as exc:   # the summary files are written; a dashboard failure must not hide them
        log.warning("no W&B sweep summary run: %s", exc)
        return
    if folder is not None:
        print(f"[eexit] W&B sweep summary run: {folder} (wandb sync it when offline)")
