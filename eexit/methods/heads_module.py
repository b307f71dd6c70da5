"""Train exit heads on cached features with cross-entropy (non-boosted and boosted stages)."""
from __future__ import annotations

import lightning as L
import torch.nn.functional as F
from torch import nn

from eexit.methods.optim import lightning_optimizers


class FeatureHeadsMixin:
    """For LightningModules that train ``self.heads`` on ``(features, targets, indices)`` batches."""

    def on_fit_start(self):
        self.heads.train()

    def on_train_epoch_start(self):
        # Lightning keeps each module's mode; heads may have been put in eval mode by an
        # evaluation between stages, and must train with batch statistics.
        self.heads.train()

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        feats, y, idx = batch
        return [f.to(device) for f in feats], y.to(device), idx


class HeadsModule(FeatureHeadsMixin, L.LightningModule):
    """Trains ``heads`` (each reading its own feature tensor of the batch) with the sum of
    their cross-entropies. Only these heads are held here, so frozen heads are never
    touched (their parameters and BN statistics stay as they were).

    Args:
        heads: the heads to train, in the order of the batch's feature list.
        optim: optimizer + schedule config.
        prefix: metric name prefix, e.g. ``nonboosted`` or ``boosted/head1``.
    """

    def __init__(self, heads: list[nn.Module], optim: dict, prefix: str = "heads"):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.optim, self.prefix = dict(optim), prefix

    def training_step(self, batch, _):
        feats, y, _idx = batch
        loss = sum(F.cross_entropy(h(f).logits, y) for h, f in zip(self.heads, feats))
        self.log(f"{self.prefix}/train/loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=y.numel())
        return loss

    def validation_step(self, batch, _):
        feats, y, _idx = batch
        for i, (h, f) in enumerate(zip(self.heads, feats)):
            acc = (h(f).logits.argmax(1) == y).float().mean()
            self.log(f"{self.prefix}/val/acc_head{i}", acc, on_step=False, on_epoch=True, batch_size=y.numel())

    def configure_optimizers(self):
        return lightning_optimizers(self.heads.parameters(), self.optim, self.trainer)
