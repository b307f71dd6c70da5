"""Which process of a multi-process (DDP) run this is, and which samples it reads.

With ``trainer.strategy=ddp`` Lightning starts ``trainer.devices - 1`` more copies of the job, and
every copy runs the whole pipeline in step with the others (each ``trainer.fit`` / ``validate`` is a
collective). Only global rank 0 writes anything: results, checkpoints, cache entries, W&B; the
others compute the same things into a scratch folder. Ranks come from the environment Lightning
(or SLURM) sets before the copies start, so they are known before the first Trainer exists.
"""
from __future__ import annotations

import os

RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")   # Lightning's own order


def global_rank() -> int:
    """The first rank variable set (as Lightning reads it); 0 in a single process. Light: the ``eexit`` command
    asks before the stack loads."""
    for name in RANK_VARIABLES:
        if os.environ.get(name):
            return int(os.environ[name])
    return 0


def is_global_zero() -> bool:
    return global_rank() == 0


def trainer_shard(trainer) -> tuple[int, int]:
    """``(rank, world size)`` of the Trainer whose loop reads a loader; ``(0, 1)`` for none."""
    return (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)


def shard_size(n: int, rank: int, world: int, equal: bool) -> int:
    """``len(shard_order(range(n), rank, world, equal))``, without building the order."""
    if equal:
        n -= n % world
    return len(range(rank, n, world))


def shard_order(order, rank: int, world: int, equal: bool):
    """This rank's samples of an epoch's ``order``: every ``world``-th from ``rank`` (disjoint, and
    together the whole epoch). ``equal``: the same count on every rank (the last
    ``len(order) % world`` dropped), as DDP training needs the same number of steps everywhere."""
    if world == 1:
        return order
    if equal:
        order = order[: len(order) - len(order) % world]
    return order[rank::world]
