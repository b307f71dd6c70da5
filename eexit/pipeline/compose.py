"""The composition root: the only place below the command line that reads the config.

:func:`compose` builds every part of a run once from its composed config, with ``hydra.utils.instantiate`` of each
group's ``_target_`` (as ``train.py`` does in lightning-hydra-template): the image data, where the backbone comes
from and its pretraining recipe, the head factory, the calibrator, the method's recipe, the Trainer factory, the
loggers' factory and the run's settings. Each class checks its own arguments as it is built (``built`` names the
config key of a refusal). The stages below get these typed parts, never the config.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from hydra.utils import instantiate
from omegaconf import OmegaConf

from eexit.config.identity import settings_of
from eexit.exits import Calibrator
from eexit.methods import Pretraining, Recipe
from eexit.pipeline.build import built, device_of, resolve_precision
from eexit.pipeline.parts import BackboneSource, Placement, Settings, Trainers, progress_bar
from eexit.pipeline.regimes import build_recipe

# Trainer settings that only change what is shown, logged or checked, never the trained weights; every other one
# (limit_train_batches, max_steps, accumulation, clipping, devices, strategy, ...) is in the backbone cache's key
PRESENTATION = {"_target_", "accelerator", "precision", "enable_progress_bar", "enable_checkpointing",
                "enable_model_summary", "num_sanity_val_steps", "log_every_n_steps", "check_val_every_n_epoch",
                "limit_val_batches", "limit_test_batches", "limit_predict_batches", "val_check_interval",
                "default_root_dir", "benchmark", "profiler", "barebones"}


@dataclass(frozen=True)
class Parts:
    """Everything a run is made of, built once from its config (``config``: the config resolved to plain data, which
    the loggers and every checkpoint keep)."""

    dm: object
    source: BackboneSource
    head: Callable
    calibrator: Calibrator
    recipe: Recipe
    placement: Placement
    trainers: Trainers
    loggers: Callable[[Path], list]
    settings: Settings
    config: dict
    identity: dict   # every setting but the seed (eexit.config.identity): what makes jobs one configuration


def compose(cfg) -> Parts:
    """The run's parts from its composed config (checked by ``eexit.config.settings.check_config`` first)."""
    device = device_of(cfg.trainer.accelerator)
    precision = resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    pretraining: Pretraining = built("pretrain", lambda: instantiate(cfg.pretrain))
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    source = BackboneSource(
        build=lambda **kw: built("backbone", lambda: instantiate(cfg.backbone, **kw)),
        config={k: v for k, v in OmegaConf.to_container(cfg.backbone, resolve=True).items() if k != "weights"},
        pretraining=pretraining, cache_dir=Path(cfg.cache_dir), seed=int(cfg.seed), precision=precision,
        trainer_key={k: v for k, v in trainer.items() if k not in PRESENTATION and v is not None},
        weights=cfg.backbone.get("weights"), cache=bool(cfg.backbone_cache),
        data_normalized=cfg.data.get("mean") is not None)
    trainers = Trainers(make=partial(instantiate, cfg.trainer, precision=precision),
                        callbacks=lambda: [instantiate(c) for c in (cfg.get("callbacks") or {}).values()
                                           if c is not None],
                        progress_bar=progress_bar(cfg.trainer.get("enable_progress_bar", "auto")))
    config = OmegaConf.to_container(cfg, resolve=True)

    def loggers(run_dir: Path) -> list:
        """The ``logger`` group: every entry gets the run folder and the resolved config."""
        made = [instantiate(c, save_dir=str(run_dir)) for c in (cfg.get("logger") or {}).values() if c is not None]
        for lg in made:
            lg.log_hyperparams(config)
        return made
    dm = built("data", lambda: instantiate(cfg.data))
    selection = cfg.get("selection") or {}
    if selection.get("kind") == "risk" and not selection.get("calibration_root"):   # the calibration split leaves
        dm.calibration_share = float(selection.calibration_share)                   # validation before anything
    return Parts(
        dm=dm, source=source,
        head=built("head", lambda: instantiate(cfg.head)),
        calibrator=built("calibrator", lambda: instantiate(cfg.calibrator)), recipe=build_recipe(cfg.method),
        placement=Placement(**OmegaConf.to_container(cfg.placement, resolve=True)), trainers=trainers,
        loggers=loggers, config=config, identity=settings_of(cfg),
        settings=Settings(seed=int(cfg.seed), cache_dir=Path(cfg.cache_dir), device=device,
                          budgets=tuple(cfg.get("budgets") or ()), real_skip_samples=cfg.get("real_skip_samples"),
                          time_samples=cfg.get("time_samples"),
                          plot=wants_plot(cfg.get("plot", "auto")), plan_only=bool(cfg.get("plan")),
                          certify=(str(selection.risk), float(selection.delta), float(selection.alpha),
                                   selection.get("calibration_root")) if selection.get("kind") == "risk" else None))


def wants_plot(setting) -> bool:
    """``plot: auto``: ``tradeoff.png`` for a single run; not per job of a multirun, whose sweep
    folder gets ``fronts.png`` of every job (rendering costs 0.2 s a job; ``plot=true`` draws it anyway)."""
    if setting != "auto":
        return bool(setting)
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    return not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN)
