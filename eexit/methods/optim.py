"""Optimizer and learning-rate schedule from config, shared by every training scheme."""
from __future__ import annotations

import torch

from eexit.errors import EExitError


def build_optimizer(params, name: str = "sgd", lr: float = 0.1, weight_decay: float = 5e-4,
                    momentum: float = 0.9, nesterov: bool = True, **_) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=nesterov and momentum > 0)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise EExitError(f"unknown optimizer '{name}'; choose sgd, adam or adamw")


def build_schedule(optimizer, schedule: str = "cosine", epochs: int = 1, steps_per_epoch: int = 1,
                   warmup_epochs: float = 0.0, **_):
    """Per-step schedule: ``cosine`` (with optional linear warm-up), ``onecycle``, or ``none``."""
    total = max(1, epochs * steps_per_epoch)
    warm = int(warmup_epochs * steps_per_epoch)
    if schedule == "none":
        return None
    if schedule == "cosine":
        import math

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            progress = (step - warm) / max(1, total - warm)
            return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                                   total_steps=total, pct_start=0.25)
    raise EExitError(f"unknown schedule '{schedule}'; choose cosine, onecycle or none")


def lightning_optimizers(params, optim_cfg: dict, trainer):
    """What ``configure_optimizers`` returns for an optimizer + per-step schedule config;
    the schedule's length comes from the trainer (epochs x batches per epoch)."""
    opt = build_optimizer(params, **optim_cfg)
    epochs = max(1, int(trainer.max_epochs))
    per_epoch = max(1, int(trainer.estimated_stepping_batches) // epochs)
    sched = build_schedule(opt, epochs=epochs, steps_per_epoch=per_epoch, **optim_cfg)
    if sched is None:
        return opt
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
