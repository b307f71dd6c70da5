"""One experiment from a composed config: data -> backbone -> method -> results.json, plot, W&B.

``run.py`` calls :func:`run_experiment` for every Hydra job; everything a job writes goes
to its own output folder. The same function runs from Python with a config composed by
``hydra.compose`` (tests do).
"""
from __future__ import annotations

import json
import logging
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from eexit.config.settings import check_config, check_writable
from eexit.costs.flops import block_macs, cumulative
from eexit.distributed import global_rank, is_global_zero
from eexit.errors import EExitError
from eexit.files.atomic import atomic_write, remove_stale
from eexit.files.disk_full import full_disk_line, remove_partial
from eexit.pipeline.backbone import obtain_backbone, pretraining
from eexit.pipeline.build import build_loggers, built, check_trainer, device_of
from eexit.pipeline.fits import check_data_suits, check_fits
from eexit.pipeline.phases import Phases
from eexit.pipeline.plan import plan_run, plan_text
from eexit.pipeline.regimes import build_recipe, run_method
from eexit.pipeline.stored import stored_bytes
from eexit.reporting.exit_plots import exits_plot
from eexit.reporting.loggers import finish_wandb, wandb_run
from eexit.reporting.plots import tradeoff_plot
from eexit.reporting.report import report, with_times
from eexit.reporting.results_file import Results
from eexit.reporting.wandb_report import log_tradeoff
from eexit.training import quiet_lightning

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What training a method needs: the config, data, loggers, folder, trained backbone,
    the calibrator (``calibrator``) and the head factory (``head``)."""

    cfg: object
    dm: object
    loggers: list
    run_dir: Path
    device: torch.device
    config: dict = field(default_factory=dict)   # the composed config, resolved (what checkpoints keep)
    backbone: torch.nn.Module | None = None
    backbone_info: dict = field(default_factory=dict)
    calibrator: object = None
    head: object = None
    phases: Phases = field(default_factory=Phases)
    plan: dict = field(default_factory=dict)


def run_experiment(cfg, run_dir: Path, overrides: list[str] | None = None) -> dict:
    """Runs the experiment ``cfg`` into ``run_dir`` and returns its results (also written to
    ``results.json``, last, once the loggers have finished). Outside ``run_dir`` it writes only to
    ``cfg.cache_dir`` (trained backbones, stored features), beside image files (their decoded copy)
    and, with ``data.download=true``, to ``data_dir``. A problem the user can fix raises
    ``EExitError``, also when it arose inside ``hydra.utils.instantiate`` (which wraps it).

    In a DDP copy (global rank > 0) the same steps run in step with rank 0, into a scratch folder
    that is deleted afterwards and with no loggers: only rank 0 writes results, checkpoints and W&B."""
    scratch = None
    if not is_global_zero():
        scratch = Path(tempfile.mkdtemp(prefix=f"eexit-rank{global_rank()}-"))
        cfg = OmegaConf.merge(cfg, {"logger": None, "plot": False})
        run_dir = scratch
    try:
        return _run_experiment(cfg, Path(run_dir), overrides)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, EExitError):
            raise exc.__cause__ from None
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _run_experiment(cfg, run_dir: Path, overrides: list[str] | None) -> dict:
    check_config(cfg)                        # every setting, and the places it writes, before any work
    check_writable(run_dir, cfg.cache_dir)
    start, phase = time.perf_counter(), Phases()
    with phase("plan"):   # first: what the run will hold and cost, from counts and rates measured now
        quiet_lightning()
        torch.set_float32_matmul_precision("high")
        dm = built("data", lambda: instantiate(cfg.data))
        recipe = build_recipe(cfg)   # method, policy and pretraining check their own arguments before any work
        calibrator = built("calibrator", lambda: instantiate(cfg.calibrator))
        pretraining(cfg)
        check_trainer(cfg)
        work = recipe.workload()
        plan = plan_run(cfg, dm, device_of(cfg.trainer.accelerator), work)
        log.info(plan_text(plan))
        if cfg.get("plan"):
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(run_dir / "plan.json", json.dumps(plan, indent=2))
            return {"plan": plan, "plan_only": True}
        dm.check_present()   # a missing dataset is named before the disk it would need
        check_fits(plan, cfg.cache_dir, lambda: stored_bytes(cfg, dm, plan))
        check_data_suits(plan, cfg, work.min_train)
        remove_stale([Path(cfg.cache_dir)])   # temporaries of writers that died, beside complete entries too
    try:
        return _run_planned(cfg, run_dir, overrides, dm, recipe, calibrator, plan, phase, start)
    except Exception as exc:   # noqa: BLE001 - a full disk surfaces as OSError or torch's RuntimeError
        if isinstance(exc, EExitError) or (line := full_disk_line(exc, [run_dir, Path(cfg.cache_dir)])) is None:
            raise
        remove_partial(run_dir, Path(cfg.cache_dir))
        rest = max(0, plan["disk_bytes"] - stored_bytes(cfg, dm, plan))
        raise EExitError(full_disk_line(exc, [run_dir, Path(cfg.cache_dir)], rest) or line) from None


def _run_planned(cfg, run_dir: Path, overrides, dm, recipe, calibrator, plan: dict, phase: Phases, start: float):
    with phase("setup"):
        L.seed_everything(cfg.seed, workers=True, verbose=False)   # after the plan: results never depend on it
        dm.setup()
    with phase("loggers"):
        config = OmegaConf.to_container(cfg, resolve=True)   # once: the loggers and every checkpoint keep it
        loggers = build_loggers(cfg, run_dir, config)
    ctx = RunContext(cfg, dm, loggers, run_dir, device_of(cfg.trainer.accelerator), config,
                     calibrator=calibrator, head=instantiate(cfg.head), phases=phase, plan=plan)
    with phase("backbone"):
        ctx.backbone, ctx.backbone_info = obtain_backbone(cfg, dm, loggers, ctx.device)
    arch = ctx.backbone.arch
    with phase("costs"):
        blocks = block_macs(ctx.backbone, dm.image_shape)
    cum = cumulative(blocks)
    facts = {"dataset": dm.name, "backbone": arch, "method": recipe.name, "overrides": list(overrides or []),
             "seed": cfg.seed, "backbone_test_acc": ctx.backbone_info["test_acc"],
             "backbone_val_acc": ctx.backbone_info["val_acc"], "backbone_source": ctx.backbone_info["source"],
             "backbone_data_parallel": ctx.backbone_info.get("data_parallel"), "backbone_macs": cum[-1],
             "blocks": [{"block": i, "name": n, "macs": m, "cumulative_macs": c, "cumulative_fraction": c / cum[-1]}
                        for i, (n, m, c) in enumerate(zip(ctx.backbone.block_names, blocks, cum))]}
    for lg in loggers:
        lg.log_metrics({"backbone/test_acc": facts["backbone_test_acc"], "backbone/macs": float(cum[-1])})

    regimes = run_method(ctx, recipe)
    results = report(facts, regimes, recipe.primary, recipe.comparison)
    series = {name: r["curve"] for name, r in regimes.items()}
    plot = None
    if series and wants_plot(cfg.get("plot", "auto")):
        with phase("plot"):
            title = f"{dm.name} / {arch} / {recipe.name}"
            plot = tradeoff_plot(series, results.backbone_test_acc, run_dir / "tradeoff.png", title,
                                 {name: r["operating_point"] for name, r in regimes.items()})
            exits_plot(regimes, run_dir / "exits.png", title)
    with phase("loggers"):
        run = wandb_run(loggers)
        log_tradeoff(run, series, results, plot)
        for lg in loggers:
            lg.save()
        if run is not None:   # W&B keeps a copy (sweeps/aggregate.py --wandb-group reads it back)
            finished(results, phase, start).write(run.dir)
        finish_wandb()
    results = finished(results, phase, start)
    results.write(run_dir)
    return results


def wants_plot(setting) -> bool:
    """``plot: auto``: ``tradeoff.png`` for a single run; not per job of a multirun, whose sweep
    folder gets ``fronts.png`` of every job (rendering costs 0.2 s a job; ``plot=true`` draws it anyway)."""
    if setting != "auto":
        return bool(setting)
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    return not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN)


def finished(results: Results, phase: Phases, start: float) -> Results:
    """With wall seconds per phase and in all, and the peak memory the process reached (host: ``ru_maxrss``;
    GPU: what torch allocated), to compare with the plan."""
    return with_times(results, phase.seconds, time.perf_counter() - start,
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0)
