"""Trade-off curves and headline numbers into the live W&B run."""
from __future__ import annotations

from pathlib import Path


def log_tradeoff(run, series: dict[str, list[dict]], results: dict, plot_path: Path | None) -> None:
    """Tables, chart, plot and summary numbers into the live run (the caller writes ``results.json``
    into ``run.dir``, whose files are synced with the run)."""
    if run is None:
        return
    import wandb

    columns = ["regime", "setting", "cost_fraction", "test_acc", "agreement", "exit_fractions"]
    rows = [[name, f"{p['setting']:g}", p["cost_fraction"], p["test_acc"], p["agreement"], str(p["exit_fractions"])]
            for name, points in series.items() for p in points]
    table = wandb.Table(columns=columns, data=rows)
    run.log({"tradeoff/table": table})
    names = [n for n, pts in series.items() if pts]
    if names:
        run.log({"tradeoff/chart": wandb.plot.line_series(
            xs=[[p["cost_fraction"] for p in sorted(series[n], key=lambda p: p["cost_fraction"])] for n in names],
            ys=[[p["test_acc"] for p in sorted(series[n], key=lambda p: p["cost_fraction"])] for n in names],
            keys=names, title="accuracy vs compute", xname="cost fraction")})
    if plot_path is not None and Path(plot_path).is_file():
        run.log({"tradeoff/plot": wandb.Image(str(plot_path))})
        exits_png = Path(plot_path).with_name("exits.png")
        if exits_png.is_file():
            run.log({"exits/plot": wandb.Image(str(exits_png))})
    for regime, reg in (results.get("regimes") or {}).items():   # per-exit confusion and calibration tables
        # cells with no sample are left out (a missing cell counts 0): W&B type-checks every row it is given one
        # by one, and zeros are most cells of a good head's matrix (results.json keeps whole matrices)
        rows = [[e, t, p, n] for e, m in enumerate(reg.get("confusion") or []) for t, row in enumerate(m)
                for p, n in enumerate(row) if n]
        if rows:
            run.log({f"{regime}/confusion": wandb.Table(columns=["exit", "true", "predicted", "count"], data=rows)})
        calib = [[c["exit"], c["ece"], c["failure_auroc"]] for c in reg.get("calibration") or []]
        if calib:
            run.log({f"{regime}/calibration": wandb.Table(columns=["exit", "ece", "failure_auroc"], data=calib)})
    run.summary["backbone_test_acc"] = results.get("backbone_test_acc")
    run.summary["headline_selection"] = "validation (oracle/: selected on test)"
    for regime, reg in (results.get("regimes") or {}).items():
        for kind, prefix in (("headline", f"{regime}/"), ("oracle", f"{regime}/oracle/")):
            for drop, point in (reg.get(kind) or {}).items():
                if point:
                    run.summary[f"{prefix}{drop}/cost_reduction"] = point["cost_reduction"]
                    run.summary[f"{prefix}{drop}/test_acc"] = point["test_acc"]
        for row in reg.get("cost_table") or []:
            run.summary[f"{regime}/acc_at_{round(100 * row['budget'])}pct"] = row["test_acc"]
