"""Per-step learning-rate schedules, built by the module as ``scheduler(optimizer, epochs=, steps_per_epoch=)``.

Configs give them with ``_partial_: true``. The cosine factor is a callable object, not a
closure, so ``LambdaLR.state_dict`` saves its length with the checkpoint and a resumed run
continues the same schedule.
"""
from __future__ import annotations

import math

import torch

from eexit.config.arguments import check_arguments


class WarmupCosine:
    """Linear warm-up over ``warmup_steps``, then a cosine decay to 0 at ``total_steps``."""

    def __init__(self, total_steps: int, warmup_steps: int = 0):
        self.total_steps, self.warmup_steps = max(1, int(total_steps)), int(warmup_steps)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def warmup_cosine(optimizer, epochs: int, steps_per_epoch: int, warmup_epochs: float = 0.0):
    check_arguments(warmup_cosine, warmup_epochs=warmup_epochs)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(epochs * steps_per_epoch, int(warmup_epochs * steps_per_epoch)))


def one_cycle(optimizer, epochs: int, steps_per_epoch: int, pct_start: float = 0.25):
    check_arguments(one_cycle, pct_start=pct_start)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                               total_steps=max(1, epochs * steps_per_epoch), pct_start=pct_start)
