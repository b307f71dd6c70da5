"""Plain classification of a staged backbone: the pretraining every frozen-backbone regime starts from."""
from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics

from eexit.methods.optim import lightning_optimizers
from eexit.trainer import to_channels_last


class ClassificationModule(L.LightningModule):
    """Cross-entropy training; logs ``train/loss``, ``train/acc``, ``val/acc``, ``test/acc`` per epoch.

    Args:
        model: the network (a ``StagedBackbone``).
        optim: optimizer + schedule config (see ``methods/optim.py``).
        label_smoothing: cross-entropy label smoothing.
    """

    def __init__(self, model: torch.nn.Module, optim: dict, num_classes: int, label_smoothing: float = 0.0):
        super().__init__()
        self.model, self.optim, self.label_smoothing = model, dict(optim), label_smoothing
        self.channels_last, self.compiled = False, None  # set by eexit.trainer.prepare
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=num_classes)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=num_classes)
        self.test_acc = torchmetrics.Accuracy(task="multiclass", num_classes=num_classes)

    def forward(self, x):
        return (self.model if self.compiled is None else self.compiled)(x)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        return to_channels_last(batch, self.channels_last)

    def training_step(self, batch, _):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        self.train_acc(logits, y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.val_acc(self(x), y)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def test_step(self, batch, _):
        x, y = batch
        self.test_acc(self(x), y)
        self.log("test/acc", self.test_acc, on_step=False, on_epoch=True)

    def configure_optimizers(self):
        return lightning_optimizers(self.model.parameters(), self.optim, self.trainer)
