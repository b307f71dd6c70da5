"""``JointTraining``: backbone and exits trained together on images (EENets, SDN).

The network trains on the image DataModule (``JointTrainingData``: its augmentation, the recipe's batch size);
its progress is checkpointed every epoch under the run folder, so a killed run resumes where it was. The checkpoint keeps the whole network.
:meth:`JointTraining.start` says which backbone the fit begins from: a fresh one here; a subclass may begin
elsewhere (the pretrained backbone, for mixed training).
"""
from __future__ import annotations

import shutil
from typing import Iterator

import torch

from eexit.data.joint_view import JointTrainingData
from eexit.errors import EExitError
from eexit.methods.base import Workload
from eexit.methods.context import FitContext, Trained
from eexit.methods.exit_training import ExitTraining
from eexit.training.resume import epoch_checkpoint, resumable


class JointTraining(ExitTraining):
    """Args: :class:`~eexit.methods.exit_training.ExitTraining`'s; ``targets`` must be ``labels``."""

    def __init__(self, name: str, epochs: int, batch_size: int, loss, optimizer, scheduler=None,
                 targets: str = "labels", regime: str | None = None):
        super().__init__(name, epochs, batch_size, loss, optimizer, scheduler, targets, regime)
        if targets != "labels":
            raise EExitError(f"method={name}: targets={targets} needs a frozen backbone; a network trained "
                             f"with its exits learns from the labels (targets=labels)")

    def workload(self) -> Workload:
        return Workload(heads=True, batch_size=self.batch_size, joint_epochs=self.epochs)

    def start(self, ctx: FitContext):
        """The backbone the joint fit begins from: a fresh one, initialised from ``seed`` (and the heads
        right after it, from the same stream)."""
        torch.manual_seed(ctx.seed)
        return ctx.fresh_backbone()

    def fit(self, ctx: FitContext) -> Iterator[tuple[str, Trained]]:
        name = self.primary
        with ctx.phases(f"{name}/build"):
            net = self.build_net(ctx, self.start(ctx), seed_heads=False)
            module, costs = self.module(ctx, net, name, backbone_trainable=True)
            progress = ctx.run_dir / "checkpoints" / f"{name}.training"   # resumes from here
            trainer = ctx.trainer(self.epochs, [epoch_checkpoint(progress)], enable_checkpointing=True)
        data = JointTrainingData(ctx.dm, self.batch_size)

        def fit():
            trainer.fit(module, datamodule=data, ckpt_path=resumable(progress / "last.ckpt", name), weights_only=True)
            shutil.rmtree(progress, ignore_errors=True)
        yield name, self.train(ctx, name, module, costs, trainer, fit, lambda: trainer.predict(module, datamodule=data),
                               whole_network=True)
