"""``Pretraining``: the backbone's own training, a recipe like every method's (``pretrain`` in the config).

Plain classification: the network without exits, its final exit's cross-entropy (with label smoothing), the
optimizer and schedule given. Its product is the trained backbone, which the pipeline caches (keyed by this
recipe's settings, the data, the seed and the Trainer) and every method then starts from; so ``fit`` yields no
exit regime of its own, and the pipeline's backbone stage calls :meth:`train`.
"""
from __future__ import annotations

from typing import Iterator

from hydra.utils import instantiate

from eexit.config.arguments import check_arguments
from eexit.methods.base import Recipe
from eexit.methods.context import FitContext, Trained
from eexit.models.early_exit import EarlyExitNet
from eexit.training.losses import ExitCrossEntropy
from eexit.training.module import EarlyExitModule
from eexit.training.optimizers import check_optimizer


class Pretraining(Recipe):
    """Args:
        epochs: training epochs (0: a pretrained backbone is only measured).
        optimizer: ``optimizer(params)`` config (``_partial_: true``).
        scheduler: optional ``scheduler(optimizer, epochs=, steps_per_epoch=)`` config.
        label_smoothing: the cross-entropy's label smoothing, in [0, 1).
    """

    def __init__(self, epochs: int, optimizer, scheduler=None, label_smoothing: float = 0.0, name: str = "backbone"):
        super().__init__(name)
        check_arguments(type(self), epochs=epochs, label_smoothing=label_smoothing)
        check_optimizer("Pretraining", optimizer, scheduler)
        self.epochs, self.label_smoothing = int(epochs), float(label_smoothing)
        self.optimizer, self.scheduler = optimizer, scheduler

    def module(self, backbone) -> EarlyExitModule:
        """The backbone as a network without exits, trained whole against the labels."""
        return EarlyExitModule(EarlyExitNet(backbone, [], []), ExitCrossEntropy(self.label_smoothing),
                               instantiate(self.optimizer), instantiate(self.scheduler) if self.scheduler else None,
                               backbone_trainable=True, targets="labels", prefix=self.name)

    def train(self, module: EarlyExitModule, images, trainer, resume: str | None = None) -> None:
        """``epochs`` of the image DataModule's training split (with its augmentation), resumable."""
        if self.epochs > 0:
            trainer.fit(module, datamodule=images, ckpt_path=resume, weights_only=True)

    def fit(self, ctx: FitContext) -> Iterator[tuple[str, Trained]]:
        return iter(())   # its product is the backbone itself, obtained before any method's fit
