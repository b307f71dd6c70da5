"""Objects a run instantiates from its config: Trainer, loggers, callbacks.

Everything is ``hydra.utils.instantiate`` of a ``_target_``; what is added here is only
what a config cannot know: the run folder, the epochs of each fit, ``precision: auto``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar

from eexit.errors import BadArgument, EExitError


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


def check_trainer(cfg) -> None:
    """Lightning's own checks of the ``trainer`` settings before any work: a Trainer is built once and dropped
    (about 20 ms); what it refuses answers in one line instead of at the first fit."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    try:
        make_trainer(cfg, [], 1)
    except (InstantiationException, MisconfigurationException, ValueError, TypeError) as exc:
        cause = exc.__cause__ if isinstance(exc, InstantiationException) and exc.__cause__ else exc
        raise EExitError(f"trainer: Lightning refuses these settings: {str(cause).splitlines()[0]}") from None


def progress_bar(setting) -> bool:
    """``auto``: bars on a terminal only; a log file gets one line per training stage instead."""
    return sys.stdout.isatty() if setting == "auto" else bool(setting)


def build_loggers(cfg, run_dir: Path, config: dict) -> list:
    """The ``logger`` group: every entry gets the run folder; the composed config (``config``: ``cfg`` resolved
    to a dict, built once per run) is logged to each."""
    loggers = [instantiate(c, save_dir=str(run_dir)) for c in (cfg.get("logger") or {}).values() if c is not None]
    for lg in loggers:
        lg.log_hyperparams(config)
    return loggers


def built(group: str, make):
    """``make()``, with a class's refusal of its own argument named by the config key (``head.width=0 is not
    allowed: ...``; from Python the same check names the class: ``Conv1dHead: width=0 ...``)."""
    try:
        return make()
    except InstantiationException as exc:
        if isinstance(exc.__cause__, BadArgument):
            raise exc.__cause__.at(group) from None
        raise
    except BadArgument as exc:
        raise exc.at(group) from None
