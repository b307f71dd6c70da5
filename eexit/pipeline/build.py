"""Objects a run instantiates from its config: Trainer, loggers, callbacks, loss.

Everything is ``hydra.utils.instantiate`` of a ``_target_``; what is added here is only
what a config cannot know: the run folder, the epochs of each fit, ``precision: auto``.
"""
from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path

import lightning as L
import torch
from hydra.utils import get_object, instantiate
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` = bf16 mixed precision on a GPU, fp32 on the CPU."""
    if precision != "auto":
        return str(precision)
    return "bf16-mixed" if device_of(accelerator).type == "cuda" else "32-true"


def device_of(accelerator: str) -> torch.device:
    return torch.device("cuda" if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available() else "cpu")


def build_callbacks(cfg) -> list[L.Callback]:
    """The ``callbacks`` group: one entry per callback, each with a ``_target_``."""
    return [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]


def make_trainer(cfg, loggers: list, max_epochs: int, callbacks: list | None = None, **overrides) -> L.Trainer:
    """The ``trainer`` group instantiated for one fit (the run's loggers are shared by every fit)."""
    tcfg = cfg.trainer
    callbacks = build_callbacks(cfg) + list(callbacks or [])
    bar = progress_bar(tcfg.get("enable_progress_bar", "auto"))
    if not bar:   # Lightning refuses a progress-bar callback then
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    return instantiate(tcfg, precision=resolve_precision(tcfg.precision, tcfg.accelerator), max_epochs=max_epochs,
                       logger=loggers or False, callbacks=callbacks, enable_progress_bar=bar, **overrides)


def progress_bar(setting) -> bool:
    """``auto``: bars on a terminal only; a log file gets one line per training stage instead."""
    return sys.stdout.isatty() if setting == "auto" else bool(setting)


def build_loggers(cfg, run_dir: Path) -> list:
    """The ``logger`` group: every entry gets the run folder; the composed config is logged to each."""
    loggers = [instantiate(c, save_dir=str(run_dir)) for c in (cfg.get("logger") or {}).values() if c is not None]
    config = OmegaConf.to_container(cfg, resolve=True)
    for lg in loggers:
        lg.log_hyperparams(config)
    return loggers


def with_objects(node, **objects):
    """Instantiate ``node`` with live Python objects as extra arguments. (Passed to
    ``instantiate`` directly, a dataclass would be turned into a config node.)"""
    return instantiate(node, _partial_=True)(**objects)


def build_loss(loss_cfg, **context):
    """Instantiate ``method.loss``, passing the ``context`` values (``costs``, ``num_train``,
    ``seed``) that its class declares as parameters."""
    params = inspect.signature(get_object(loss_cfg._target_)).parameters
    return with_objects(loss_cfg, **{k: v for k, v in context.items() if k in params})


def epoch_checkpoint(folder: Path) -> ModelCheckpoint:
    """``last.ckpt`` (weights, optimizer, scheduler, epoch) replaced at every epoch's end, so a
    killed training resumes where it was (Lightning writes it atomically)."""
    return ModelCheckpoint(dirpath=folder, filename="last", save_top_k=1, monitor=None,
                           save_on_train_epoch_end=True, enable_version_counter=False)


def resumable(last: Path, what: str) -> str | None:
    """``last`` when it holds a loadable training state (else None, and it is removed)."""
    if not last.is_file():
        return None
    try:
        state = torch.load(last, map_location="cpu", weights_only=False)
        epoch = int(state["epoch"]) + 1
    except Exception as exc:
        log.warning("%s: cannot resume from %s (%s); training from the start", what, last,
                    type(exc).__name__)
        last.unlink(missing_ok=True)
        return None
    log.info("%s: resuming an interrupted training from %s (%d epochs done)", what, last, epoch)
    return str(last)
