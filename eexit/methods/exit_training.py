"""``ExitTraining``: the recipe arguments every trained set of exits shares, and the one fit they go through.

A recipe that trains exits (heads on a frozen backbone, or backbone and heads together) says what data the
module reads and which callbacks it adds; building the loss, the module and the Trainer, timing the fit and
predicting every exit's output on validation and test happen here, the same for every method.
"""
from __future__ import annotations

import logging
import time

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from eexit.config.arguments import check_arguments
from eexit.costs.exits import exit_costs
from eexit.exits import CachedExits
from eexit.methods.base import Recipe
from eexit.methods.context import FitContext, Trained
from eexit.methods.objects import build_loss
from eexit.models.early_exit import EarlyExitNet
from eexit.training.module import EarlyExitModule
from eexit.training.optimizers import check_optimizer

log = logging.getLogger(__name__)
EVAL_BATCH = 1024


class ExitTraining(Recipe):
    """Args (beside :class:`Recipe`'s):
        epochs: training epochs.
        batch_size: training batch size.
        loss: the loss config (``_target_``; built with the context values its class declares).
        optimizer: ``optimizer(params)`` config (``_partial_: true``).
        scheduler: optional ``scheduler(optimizer, epochs=, steps_per_epoch=)`` config.
        targets: ``labels`` or ``backbone`` (the frozen backbone's argmax).
    """

    network = EarlyExitNet   # the network class the exits are assembled into (``assemble``)

    def __init__(self, name: str, epochs: int, batch_size: int, loss, optimizer, scheduler=None,
                 targets: str = "backbone", regime: str | None = None):
        super().__init__(name, regime)
        check_arguments(type(self), epochs=epochs, batch_size=batch_size, targets=targets)
        check_optimizer(type(self).__name__, optimizer, scheduler)
        self.epochs, self.batch_size, self.targets = int(epochs), int(batch_size), targets
        self.loss, self.optimizer, self.scheduler = loss, optimizer, scheduler

    def build_net(self, ctx: FitContext, backbone, seed_heads: bool = True) -> EarlyExitNet:
        """Heads at the run's attach points, initialised from ``seed`` right before they are built
        (``seed_heads``), so every regime of a run starts from identical heads."""
        if seed_heads:
            torch.manual_seed(ctx.seed)
        return self.network.assemble(backbone, ctx.attach, ctx.head, ctx.dm.num_classes,
                                     ctx.dm.image_shape).to(ctx.device)

    def module(self, ctx: FitContext, net: EarlyExitNet, name: str, backbone_trainable: bool):
        """The module and the exits' costs: the loss gets the costs, the training size and the seed it declares."""
        costs = exit_costs(net, ctx.dm.image_shape)
        loss = build_loss(self.loss, costs=costs, num_train=ctx.dm.num_samples("train"), seed=ctx.seed)
        module = EarlyExitModule(net, loss, instantiate(self.optimizer),
                                 instantiate(self.scheduler) if self.scheduler else None,
                                 backbone_trainable=backbone_trainable, targets=self.targets, prefix=name)
        return module, costs

    def train(self, ctx: FitContext, name: str, module, costs, trainer, fit, predict,
              whole_network: bool = False) -> Trained:
        """``fit()`` runs the Trainer; ``predict()`` then gives every exit's outputs on validation and test
        (``trainer.predict``'s batches of each)."""
        start = time.perf_counter()
        fit()
        seconds = time.perf_counter() - start
        ctx.phases.add(f"{name}/train", seconds)
        last = trainer.callback_metrics.get(f"{name}/train/loss")
        log.info("%s: trained %d epochs in %.1f s%s", name, trainer.current_epoch, seconds,
                 "" if last is None else f", final train loss {float(last):.3f}")
        with ctx.phases(f"{name}/predict"):
            val, test = (CachedExits.cat(batches).cpu() for batches in predict())
        final = float((test.backbone_pred == test.labels).double().mean()) if whole_network else None
        return Trained(module.net, costs, val, test, train_seconds=seconds, whole_network=whole_network,
                       final_exit_test_acc=final,
                       method={"loss": self.loss_config()} if getattr(module.loss, "needs_confidence", False) else {})

    def loss_config(self) -> dict:
        return OmegaConf.to_container(self.loss, resolve=True) if OmegaConf.is_config(self.loss) else dict(self.loss)
