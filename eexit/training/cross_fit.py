"""Out-of-fold scores of a boosted head: the ``cross_fit`` survivor rule (``survivors.py``).

The pool head k trained on is cut into ``folds`` parts; for each part a fresh copy of head k
(its weights before training) trains on the other parts, as head k did (same loss, optimizer,
schedule and epochs), and scores the part it never saw. Survivors are then decided from these
scores, which behave like validation scores rather than training ones.

The fold copies train in a short loop of our own rather than a second ``Trainer.fit``: they run in
the middle of the boosted fit (inside its callback), where a nested fit would share and reset
the running Trainer's strategy, loops and callbacks.
"""
from __future__ import annotations

import copy

import lightning as L
import torch

from eexit.exits.cached import CachedExits
from eexit.training.head_outputs import collect
from eexit.training.losses import LossInputs
from eexit.training.module import EarlyExitModule, set_trainable


def fold_split(pool: torch.Tensor, folds: int, seed: int) -> list[torch.Tensor]:
    """``pool`` (sample indices) in ``folds`` random parts of near-equal size, each sorted."""
    perm = pool[torch.randperm(pool.numel(), generator=torch.Generator().manual_seed(seed))]
    return [part.sort().values for part in perm.tensor_split(folds)]


def _train_copy(trainer: L.Trainer, module: EarlyExitModule, k: int, indices: torch.Tensor, epochs: int,
                seed: int) -> None:
    """Train head k (the copy in its place) on ``indices`` through the module's own forward and loss."""
    dm, head = trainer.datamodule, module.net.heads[k]
    loader = dm.loader("train", indices, shuffle=True, batch_size=dm.batch_size, blocks=[k])
    optimizer = module.optimizer([p for p in head.parameters() if p.requires_grad])
    scheduler = module.scheduler(optimizer, epochs=epochs, steps_per_epoch=len(loader)) if module.scheduler else None
    loader.seed = seed
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            logits, conf, labels, idx = module.exit_outputs(trainer.strategy.batch_to_device(batch), [k])
            loss = module.loss(LossInputs(logits, conf, module.targets_for(logits, labels), idx, [k]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()


def out_of_fold(trainer: L.Trainer, module: EarlyExitModule, k: int, initial_state: dict, pool: torch.Tensor,
                folds: int, epochs: int, seed: int, batch_size: int) -> tuple[torch.Tensor, CachedExits]:
    """``(indices, outputs)``: head k's outputs on every sample of ``pool``, each from the copy of
    head k that did not train on it."""
    parts, indices = [], []
    trained_head = module.net.heads[k]
    split = fold_split(pool, folds, seed)
    try:
        for f, held_out in enumerate(split):
            head = copy.deepcopy(trained_head)
            head.load_state_dict(initial_state)
            set_trainable(head, True)
            module.net.heads[k] = head   # trained and scored through the module's own path, then put back
            rest = torch.cat([p for i, p in enumerate(split) if i != f])
            with torch.enable_grad():
                _train_copy(trainer, module, k, rest, epochs, seed * 31 + f)
            parts.append(collect(trainer, module, trainer.datamodule.loader("train", held_out, batch_size=batch_size,
                                                                            blocks=[k]), [k]))
            indices.append(held_out)
    finally:
        module.net.heads[k] = trained_head
    return torch.cat(indices), CachedExits.cat(parts)
