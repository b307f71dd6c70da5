"""``ZTW``: Zero Time Waste on a frozen pretrained backbone (Wołczyk et al., NeurIPS 2021; gmum/Zero-Time-Waste).

Two fits on the stored features, as the paper trains them:
1. the cascading heads (``eexit.models.ztw.ZTWNet``: each head also reads the previous head's detached
   output), every head's cross-entropy summed;
2. with heads and cascade frozen, the geometric ensembles: each exit's weighted geometric mean of heads
   0..k, its weights and per-class biases trained on the exit's cross-entropy.
Exits then answer with their ensemble; any exit score decides on those answers (max-softmax by default).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

from hydra.utils import instantiate

from eexit.config.arguments import check_arguments
from eexit.methods.base import Workload
from eexit.methods.context import FitContext, Trained
from eexit.methods.frozen import FrozenHeads
from eexit.models.ztw import ZTWNet
from eexit.training.losses import ExitCrossEntropy
from eexit.training.module import EarlyExitModule, set_trainable
from eexit.training.optimizers import check_optimizer


class ZTW(FrozenHeads):
    """Args (beside :class:`~eexit.methods.exit_training.ExitTraining`'s and ``feature_cache``,
    ``feature_dtype``, ``feature_augment``): ``ensemble_epochs`` and ``ensemble_optimizer`` (``_partial_: true``) of fit 2."""

    network = ZTWNet

    def __init__(self, name: str, epochs: int, batch_size: int, loss, optimizer, scheduler=None,
                 targets: str = "labels", regime: str | None = None, feature_cache="auto",
                 feature_dtype: str = "bfloat16", ensemble_epochs: int = 10, ensemble_optimizer=None,
                 feature_augment: bool = False):
        super().__init__(name, epochs, batch_size, loss, optimizer, scheduler, targets, regime, feature_cache,
                         feature_dtype, feature_augment=feature_augment)
        check_arguments(type(self), ensemble_epochs=ensemble_epochs)
        if ensemble_optimizer is not None:
            check_optimizer("ZTW", ensemble_optimizer)
        self.ensemble_epochs, self.ensemble_optimizer = int(ensemble_epochs), ensemble_optimizer or optimizer

    def workload(self) -> Workload:
        # an ensemble step runs the frozen heads forward: about a head step's cost
        return replace(super().workload(), head_epochs=self.epochs + self.ensemble_epochs)

    def fit(self, ctx: FitContext) -> Iterator[tuple[str, Trained]]:
        data, name = self.features(ctx), self.primary
        with ctx.phases(f"{name}/build"):
            net = self.build_net(ctx, ctx.backbone)
            net.ensembling = False   # fit 1: every exit answers with its cascaded head
            heads, costs = self.module(ctx, net, name, backbone_trainable=False)
            heads_trainer = ctx.trainer(self.epochs, [], devices=1, strategy="auto")
            ensembles = EarlyExitModule(net, ExitCrossEntropy(), instantiate(self.ensemble_optimizer), None,
                                        targets=self.targets, prefix=f"{name}_ensembles")
            trainer = ctx.trainer(self.ensemble_epochs, [], devices=1, strategy="auto")
        data.set_train_pool(None, 0)

        def fit():
            heads_trainer.fit(heads, datamodule=data)
            set_trainable(net.heads, False)
            set_trainable(net.cascade, False)
            net.ensembling = True    # fit 2: only the ensembles train
            trainer.fit(ensembles, datamodule=data)
        yield name, self.train(ctx, name, ensembles, costs, trainer, fit,
                               lambda: trainer.predict(ensembles, datamodule=data))
