"""One experiment from a composed config: data -> backbone -> method -> results.json, plot, W&B.

the ``eexit`` command calls :func:`run_experiment` for every Hydra job; everything a job writes goes to its own output folder.
The same function runs from Python with a config composed by ``hydra.compose`` (tests do). The config is read by
the composition root (``compose.py``) alone; every stage here gets the typed parts it built.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import resource
import shutil
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from omegaconf import OmegaConf

from eexit.config.identity import configuration_id
from eexit.config.settings import check_config, check_writable
from eexit.costs import attach_points, block_macs, cumulative
from eexit.distributed import global_rank, is_global_zero
from eexit.errors import EExitError, TrainingDiverged
from eexit.files.atomic import atomic_write, remove_stale
from eexit.files.disk_full import full_disk_line, remove_partial
from eexit.data.unlabelled import unlabelled_loader
from eexit.methods import FitContext
from eexit.training.predict import predict_exits
from eexit.pipeline.backbone import BackboneStage
from eexit.pipeline.build import built
from eexit.pipeline.certify import Certification
from eexit.pipeline.compose import Parts, compose
from eexit.pipeline.fits import check_data_suits, check_fits
from eexit.pipeline.phases import Phases
from eexit.pipeline.plan import Plan, plan_run, plan_text, without_phases
from eexit.pipeline.plan_check import plan_check, plan_check_text
from eexit.pipeline.regimes import Judging, run_method
from eexit.pipeline.settle import Settling
from eexit.pipeline.stored import cached_phases, stored_bytes
from eexit.reporting.exit_plots import exits_plot
from eexit.reporting.loggers import finish_wandb, wandb_run
from eexit.reporting.plots import tradeoff_plot
from eexit.reporting.report import report, with_times
from eexit.reporting.results_file import Results
from eexit.reporting.wandb_report import log_tradeoff
from eexit.training import quiet_lightning

log = logging.getLogger(__name__)


def run_experiment(cfg, run_dir: Path, overrides: list[str] | None = None) -> Results | Plan:
    """Runs the experiment ``cfg`` into ``run_dir`` and returns its results (also written to ``results.json``,
    last, once the loggers have finished), or its :class:`~eexit.pipeline.plan.Plan` with ``plan=true``. Outside
    ``run_dir`` it writes only to ``cfg.cache_dir`` (trained backbones, stored features), beside image files (their
    decoded copy) and, with ``data.download=true``, to ``data_dir``. A problem the user can fix raises
    ``EExitError``, also when it arose inside ``hydra.utils.instantiate`` (which wraps it).

    In a DDP copy (global rank > 0) the same steps run in step with rank 0, into a scratch folder that is deleted
    afterwards and with no loggers: only rank 0 writes results, checkpoints and W&B."""
    scratch = None
    if not is_global_zero():
        scratch = Path(tempfile.mkdtemp(prefix=f"eexit-rank{global_rank()}-"))
        cfg = OmegaConf.merge(cfg, {"logger": None, "plot": False})
        run_dir = scratch
    try:
        check_config(cfg)                        # every setting, and the places it writes, before any work
        check_writable(run_dir, cfg.cache_dir)
        return planned(compose(cfg), Path(run_dir), list(overrides or []))
    except InstantiationException as exc:
        if isinstance(exc.__cause__, EExitError):
            raise exc.__cause__ from None
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def planned(parts: Parts, run_dir: Path, overrides: list[str]) -> Results | Plan:
    """The plan first (what the run will hold and cost, from counts and rates measured now), its checks, then the
    run; a full disk on the way is one line naming what the rest needs."""
    start, phase, s, dm = time.perf_counter(), Phases(), parts.settings, parts.dm
    with phase("plan"):
        quiet_lightning()
        torch.set_float32_matmul_precision("high")
        parts.trainers.check()
        work = parts.recipe.workload()
        plan = plan_run(dm, parts.source, parts.placement, parts.head, work, s.device, s.time_samples)
        stage = BackboneStage(parts.source, dm, parts.trainers, s.device)
        plan = without_phases(plan, cached_phases(stage, plan))   # a cached backbone or store costs no time
        log.info(plan_text(plan))
        if s.plan_only:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(run_dir / "plan.json", json.dumps(plan.to_dict(), indent=2))
            return plan
        built("data", dm.check_present)   # a missing dataset is named before the disk it would need
        check_fits(plan, s.cache_dir, lambda: stored_bytes(stage, plan))
        check_data_suits(plan, dm.crop_padding, work.min_train)
        remove_stale([s.cache_dir])   # temporaries of writers that died, beside complete entries too
    try:
        return run(parts, run_dir, overrides, plan, phase, start)
    except TrainingDiverged as exc:   # the learning rate to lower, by its key
        raise exc.at("pretrain.optimizer.lr" if exc.fit == parts.source.pretraining.name else "method.optimizer.lr") \
            from None
    except Exception as exc:   # noqa: BLE001 - a full disk surfaces as OSError or torch's RuntimeError
        if isinstance(exc, EExitError) or (line := full_disk_line(exc, [run_dir, s.cache_dir])) is None:
            raise
        remove_partial(run_dir, s.cache_dir)
        rest = max(0, plan.disk_bytes - stored_bytes(stage, plan))
        raise EExitError(full_disk_line(exc, [run_dir, s.cache_dir], rest) or line) from None


def run(parts: Parts, run_dir: Path, overrides: list[str], plan: Plan, phase: Phases, start: float) -> Results:
    s, dm, recipe = parts.settings, parts.dm, parts.recipe
    with phase("setup"):
        L.seed_everything(s.seed, workers=True, verbose=False)   # after the plan: results never depend on it
        built("data", dm.setup)
    with phase("loggers"):
        loggers = parts.loggers(run_dir)
    trainers = parts.trainers.with_loggers(loggers)
    with phase("backbone"):
        backbone, info = BackboneStage(parts.source, dm, trainers, s.device).obtain()
    with phase("costs"):
        blocks = block_macs(backbone, dm.image_shape)
    cum = cumulative(blocks)
    facts = {"dataset": dm.name, "backbone": backbone.arch, "method": recipe.name, "overrides": overrides,
             "configuration": configuration_id(parts.identity), "settings": parts.identity, "seed": s.seed,
             "backbone_test_acc": info.test_acc, "backbone_val_acc": info.val_acc,
             "backbone_source": info.source, "backbone_data_parallel": info.data_parallel, "backbone_macs": cum[-1],
             "blocks": [{"block": i, "name": n, "macs": m, "cumulative_macs": c, "cumulative_fraction": c / cum[-1]}
                        for i, (n, m, c) in enumerate(zip(backbone.block_names, blocks, cum))]}
    for lg in loggers:
        lg.log_metrics({"backbone/test_acc": info.test_acc, "backbone/macs": float(cum[-1])})
    ctx = FitContext(dm=dm, backbone=backbone, fresh_backbone=lambda: parts.source.fresh(dm.num_classes),
                     attach=built("placement", lambda: attach_points(parts.placement, backbone, dm.image_shape)),
                     head=parts.head,
                     calibrator=parts.calibrator, seed=s.seed, device=s.device, run_dir=run_dir,
                     cache_dir=s.cache_dir, trainer=trainers, phases=phase, plan=plan)
    certification = None if s.certify is None else Certification(*s.certify[:3], outputs=lambda net: predict_exits(
        net, dm.loader("calibration") if not s.certify[3] else unlabelled_loader(s.certify[3], dm.image_shape, dm.mean,
                                                                                   dm.std), s.device.type))
    records = run_method(recipe, ctx, Judging(info.val_acc, info.test_acc, s.budgets, certification),
                         Settling(dm, s.device, s.real_skip_samples, run_dir, parts.config, info.weights_file,
                                  tuple(loggers), phase, s.time_samples))
    if records and recipe.primary not in records:   # a recipe of the user's own that renamed what it yields
        raise EExitError(f"method={recipe.name} trained {', '.join(records)} but names {recipe.primary!r} as its "
                         f"primary regime; set the recipe's regime (method.regime) to one of those it yields")
    results = report(facts, records, recipe.primary, recipe.comparison)
    series = {name: r.curve for name, r in records.items()}
    plot = None
    if series and s.plot:
        with phase("plot"):
            title = f"{dm.name} / {backbone.arch} / {recipe.name}"
            plot = tradeoff_plot(series, results.backbone_test_acc, run_dir / "tradeoff.png", title,
                                 {name: r.operating_point for name, r in records.items()},
                                 {name: r.val_curve for name, r in records.items()})
            exits_plot(records, run_dir / "exits.png", title)
    with phase("loggers"):
        wandb = wandb_run(loggers)
        log_tradeoff(wandb, series, results, plot)
        for lg in loggers:
            lg.save()
        if wandb is not None:   # W&B keeps a copy (sweeps/aggregate.py --wandb-group reads it back)
            finished(results, phase, start, plan).write(wandb.dir)
        finish_wandb()
    results = finished(results, phase, start, plan)
    results.write(run_dir)
    log.info(plan_check_text(results.plan_check))   # every run's log ends with what the plan promised
    return results


def finished(results: Results, phase: Phases, start: float, plan: Plan) -> Results:
    """With wall seconds per phase and in all, the peak memory the process reached (host: ``ru_maxrss``;
    GPU: what torch allocated), and the plan's seconds per phase beside the measured ones."""
    wall = time.perf_counter() - start
    timed = with_times(results, phase.seconds, wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                       torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0)
    return dataclasses.replace(timed, plan_check=plan_check(plan.seconds_by_phase, phase.seconds, wall))
