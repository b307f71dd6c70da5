"""``JointTrainingData``: an image DataModule as a network trained whole (backbone and exits) reads it.

The recipe's own batch size for training (with the data's augmentation and each sample's index, which
cost-aware losses key per-sample state on), the data's unaugmented validation split during the fit, and
validation then test for ``trainer.predict``; every loader shared between DDP processes.
"""
from __future__ import annotations

import lightning as L


class JointTrainingData(L.LightningDataModule):
    def __init__(self, images, batch_size: int):
        super().__init__()
        self.images, self.batch_size = images, int(batch_size)

    def setup(self, stage: str | None = None) -> None:
        self.images.setup()

    def train_dataloader(self):
        return self.images.loader("train", train=True, batch_size=self.batch_size, with_index=True,
                                  shard_by=self.trainer)

    def val_dataloader(self):
        return self.images.loader("val", shard_by=self.trainer)

    def predict_dataloader(self):
        return [self.images.loader("val"), self.images.loader("test")]
