"""Every exit's output over any image loader, outside a run (benchmarks, your own scripts)."""
from __future__ import annotations

import lightning as L
from torch import nn

from eexit.exits.cached import CachedExits
from eexit.models.early_exit import EarlyExitNet
from eexit.training.module import EarlyExitModule


class _OneLoader:
    """A list of batches as one loader (``trainer.predict`` reads a bare list as many loaders)."""

    def __init__(self, batches: list):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def predict_exits(net: EarlyExitNet, loader, accelerator: str = "auto") -> CachedExits:
    """Every exit's output over ``loader`` (image batches, or a list of them), through
    ``trainer.predict``: the cached evaluation's pass, for code outside a run (benchmarks, scripts)."""
    if isinstance(loader, (list, tuple)):
        loader = _OneLoader(list(loader))
    trainer = L.Trainer(accelerator=accelerator, devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    was_training = net.training
    module = EarlyExitModule(net, nn.Identity(), optimizer=None)
    outputs = trainer.predict(module, dataloaders=loader)
    net.train(was_training)
    return CachedExits.cat(outputs).cpu()
