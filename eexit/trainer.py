"""Lightning Trainer from the ``trainer`` config group, with the lean defaults sweeps need."""
from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` = bf16 mixed precision on a GPU, fp32 on the CPU."""
    if precision != "auto":
        return str(precision)
    on_gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if on_gpu else "32-true"


def device_of(accelerator: str) -> torch.device:
    return torch.device("cuda" if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available() else "cpu")


def use_channels_last(tcfg) -> bool:
    """``auto``: on a GPU (faster convolutions with bf16), not on the CPU."""
    value = tcfg.get("channels_last", "auto")
    return device_of(tcfg.accelerator).type == "cuda" if value == "auto" else bool(value)


def prepare(module, model: torch.nn.Module, tcfg):
    """Lean-training switches on a LightningModule training ``model``: channels_last weights
    (inputs follow in ``on_after_batch_transfer``) and optional ``torch.compile`` of ``model``."""
    module.channels_last = use_channels_last(tcfg)
    if module.channels_last:
        model.to(memory_format=torch.channels_last)
    if tcfg.get("compile"):
        module.compiled = torch.compile(model)
    return module


def to_channels_last(batch, enabled: bool):
    if not enabled:
        return batch
    x, *rest = batch
    return (x.contiguous(memory_format=torch.channels_last), *rest)


def make_trainer(tcfg, loggers, max_epochs: int, **overrides) -> L.Trainer:
    """One Trainer per training stage; every stage shares the run's loggers."""
    callbacks = [TQDMProgressBar(refresh_rate=int(tcfg.progress_refresh))] if tcfg.progress_bar else []
    kwargs = dict(
        accelerator=tcfg.accelerator, devices=tcfg.devices,
        precision=resolve_precision(tcfg.precision, tcfg.accelerator),
        max_epochs=max_epochs, logger=loggers or False, callbacks=callbacks,
        enable_progress_bar=bool(tcfg.progress_bar), enable_checkpointing=False,
        enable_model_summary=False, num_sanity_val_steps=0,
        log_every_n_steps=int(tcfg.log_every_n_steps), benchmark=bool(tcfg.benchmark),
        deterministic=bool(tcfg.deterministic), check_val_every_n_epoch=int(tcfg.check_val_every_n_epoch),
    )
    if tcfg.get("limit_train_batches") is not None:
        kwargs["limit_train_batches"] = tcfg.limit_train_batches
    kwargs.update(overrides)
    return L.Trainer(**kwargs)
