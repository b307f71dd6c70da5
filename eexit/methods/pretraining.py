"""``Pretraining``: the backbone's own training recipe (``pretrain`` in the config), built once per run.

Plain classification: the network without exits, its final exit's cross-entropy (with label smoothing), the
optimizer and schedule given. Its product is the trained backbone, not a set of exits, so it is no method
:class:`~eexit.methods.Recipe`: the pipeline's backbone stage trains with it (:meth:`classifier`,
:meth:`fit_backbone`), keys the backbone cache by its :meth:`settings`, and the plan reads its ``epochs``.
"""
from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import OmegaConf

from eexit.config.arguments import check_arguments
from eexit.models.early_exit import EarlyExitNet
from eexit.training.losses import ExitCrossEntropy
from eexit.training.module import EarlyExitModule
from eexit.training.optimizers import check_optimizer


class Pretraining:
    """Args:
        epochs: training epochs (0: a pretrained backbone is only measured).
        optimizer: ``optimizer(params)`` config (``_partial_: true``).
        scheduler: optional ``scheduler(optimizer, epochs=, steps_per_epoch=)`` config.
        label_smoothing: the cross-entropy's label smoothing, in [0, 1).
        name: the prefix of what it logs.
    """

    def __init__(self, epochs: int, optimizer, scheduler=None, label_smoothing: float = 0.0, name: str = "backbone"):
        check_arguments(type(self), epochs=epochs, label_smoothing=label_smoothing)
        check_optimizer("Pretraining", optimizer, scheduler)
        self.epochs, self.label_smoothing, self.name = int(epochs), float(label_smoothing), str(name)
        self.optimizer, self.scheduler = optimizer, scheduler
        self._given = {"epochs": epochs, "label_smoothing": label_smoothing}   # as the config gave them: the cache key

    def settings(self) -> dict:
        """What determines the weights it trains (a part of the backbone cache's key; how the recipe is built is not)."""
        def plain(node):
            return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        return {**self._given, "optimizer": plain(self.optimizer), "scheduler": plain(self.scheduler)}

    def classifier(self, backbone) -> EarlyExitModule:
        """The backbone as a network without exits, trained whole against the labels."""
        return EarlyExitModule(EarlyExitNet(backbone, [], []), ExitCrossEntropy(self.label_smoothing),
                               instantiate(self.optimizer), instantiate(self.scheduler) if self.scheduler else None,
                               backbone_trainable=True, targets="labels", prefix=self.name)

    def fit_backbone(self, module: EarlyExitModule, images, trainer, resume: str | None = None) -> None:
        """``epochs`` of the image DataModule's training split (with its augmentation), resumed from ``resume``."""
        if self.epochs > 0:
            trainer.fit(module, datamodule=images, ckpt_path=resume, weights_only=True)
