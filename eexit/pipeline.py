"""One experiment from a composed config: data -> backbone -> method -> results.json, plot, W&B.

``run.py`` calls :func:`run_experiment` for every Hydra job; everything a job
writes goes to its own output folder.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from eexit.errors import EExitError
from eexit.flops import block_macs, cumulative
from eexit.loggers import build_loggers, wandb_run
from eexit.methods.pretrain import obtain_backbone
from eexit.reporting.plots import tradeoff_plot
from eexit.reporting.results import write_results
from eexit.reporting.wandb_report import log_tradeoff
from eexit.trainer import device_of

log = logging.getLogger(__name__)


def quiet_lightning() -> None:
    """Lightning prints device/tip banners for every Trainer; a run makes several."""
    import warnings
    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for msg in (".*log_every_n_steps.*", ".*LeafSpec.*", ".*does not have many workers.*",
                ".*limit_val_batches.*", ".*torch.jit.*deprecated.*"):
        warnings.filterwarnings("ignore", message=msg)


@dataclass
class RunContext:
    """What a training scheme gets: the config, data, loggers, output folder and trained backbone."""

    cfg: object
    dm: object
    loggers: list
    run_dir: Path
    device: torch.device
    backbone: torch.nn.Module | None = None
    backbone_info: dict = field(default_factory=dict)


def method_registry():
    from eexit.methods import runners
    return runners.METHODS


def run_experiment(cfg, run_dir: Path, overrides: list[str] | None = None) -> dict:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    methods = method_registry()
    if cfg.method.name not in methods:
        raise EExitError(f"unknown method '{cfg.method.name}'; choose one of: {', '.join(methods)}")
    start = time.perf_counter()
    quiet_lightning()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_float32_matmul_precision("high")
    dm = instantiate(cfg.data)
    dm.setup()
    device = device_of(cfg.trainer.accelerator)
    loggers = build_loggers(cfg.logger, run_dir, OmegaConf.to_container(cfg, resolve=True))
    ctx = RunContext(cfg, dm, loggers, run_dir, device)

    results: dict = {"dataset": dm.name, "backbone": cfg.backbone.name, "method": cfg.method.name,
                     "overrides": list(overrides or []), "seed": cfg.seed, "cost_unit": "MACs (fvcore, batch 1)"}
    ctx.backbone, ctx.backbone_info = obtain_backbone(cfg, dm, loggers, device)
    results["backbone_test_acc"] = ctx.backbone_info["test_acc"]
    results["backbone_val_acc"] = ctx.backbone_info["val_acc"]
    results["backbone_source"] = ctx.backbone_info["source"]
    blocks = block_macs(ctx.backbone)
    cum = cumulative(blocks)
    results["backbone_macs"] = cum[-1]
    results["blocks"] = [{"block": i, "name": n, "macs": m, "cumulative_macs": c, "cumulative_fraction": c / cum[-1]}
                         for i, (n, m, c) in enumerate(zip(ctx.backbone.block_names, blocks, cum))]
    for lg in loggers:
        lg.log_metrics({"backbone/test_acc": results["backbone_test_acc"],
                        "backbone/macs": float(results["backbone_macs"])})

    series = methods[cfg.method.name](ctx, results)
    results["wall_seconds"] = time.perf_counter() - start
    plot = None
    if series:
        plot = tradeoff_plot(series, results["backbone_test_acc"], run_dir / "tradeoff.png",
                             f"{dm.name} / {cfg.backbone.name} / {cfg.method.name}")
    write_results(run_dir, results)
    log_tradeoff(wandb_run(loggers), series or {}, results, plot, run_dir / "results.json")
    for lg in loggers:
        lg.save()
    print_summary(results, run_dir)
    return results


HEAVY_HEADS = 0.10  # heads above this share of the backbone's MACs get a note in the summary


def print_summary(results: dict, run_dir: Path) -> None:
    print(f"[eexit] {results['dataset']} / {results['backbone']}: backbone test accuracy "
          f"{100 * results['backbone_test_acc']:.2f}% ({results['backbone_macs'] / 1e6:.1f} M MACs)")
    for regime, head in (results.get("headlines") or {}).items():
        parts = []
        for drop, point in head.items():
            d = drop.replace("drop_", "≤").replace("pt", " pt")
            parts.append(f"{d}: " + ("none" if point is None else
                                     f"{-100 * point['cost_reduction']:+.1f}% compute at {100 * point['test_acc']:.2f}%"))
        print(f"[eexit] {regime:>11}: " + " | ".join(parts))
    for regime, r in (results.get("regimes") or {}).items():
        heavy = r.get("head_macs_fraction", 0.0)
        if heavy > HEAVY_HEADS:
            print(f"[eexit] note: {regime}'s heads cost {100 * heavy:.0f}% of the backbone's MACs, so exiting saves "
                  f"little; try lighter heads (head.options), fewer exits (placement.num_exits) or a deeper backbone")
    print(f"[eexit] results: {run_dir / 'results.json'}")
