"""Proof that data-parallel processes read disjoint shards that cover each epoch.

Every process records the sample indices of its training batches; at the end of each epoch the
lists are gathered, and the report says how many samples each process saw, how many distinct
samples the epoch covered and how many were read by more than one process (0 when sharding is
right). A sharding bug (every process reading everything) costs N times the compute silently;
this makes it visible in ``results.json`` and as a warning.
"""
from __future__ import annotations

import logging

import lightning as L
import torch

log = logging.getLogger(__name__)


class ShardAudit(L.Callback):
    def __init__(self):
        self.seen: list[torch.Tensor] = []
        self.report: dict | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if isinstance(batch, (tuple, list)) and len(batch) == 3:   # (x, y, sample index)
            self.seen.append(batch[2].detach().cpu())

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        mine = torch.cat(self.seen) if self.seen else torch.zeros(0, dtype=torch.long)
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            gathered: list = [None] * trainer.world_size
            torch.distributed.all_gather_object(gathered, mine)
        else:
            gathered = [mine]
        every = torch.cat(gathered)
        distinct = int(torch.unique(every).numel())
        self.report = {"processes": len(gathered), "samples_per_process": [int(g.numel()) for g in gathered],
                       "distinct_samples": distinct, "read_twice": int(every.numel()) - distinct,
                       "epoch": trainer.current_epoch}
        if self.report["read_twice"] and trainer.is_global_zero:
            log.warning("data-parallel processes read %d samples more than once in epoch %d; shards overlap",
                        self.report["read_twice"], trainer.current_epoch)
