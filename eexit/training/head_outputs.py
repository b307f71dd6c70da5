"""Heads' outputs over a loader in the middle of a fit: what boosted training decides survivors from."""
from __future__ import annotations

import lightning as L
import torch

from eexit.exits.cached import CachedExits
from eexit.training.module import EarlyExitModule


@torch.no_grad()
def collect(trainer: L.Trainer, module: EarlyExitModule, loader, heads: list[int]) -> CachedExits:
    """Outputs of ``heads`` (and the final exit) over ``loader`` during fit, in float32 and eval mode."""
    modes = [h.training for h in module.net.heads]
    module.net.heads.eval()
    parts = []
    with torch.autocast(module.device.type, enabled=False):
        for batch in loader:
            logits, conf, labels, _ = module.exit_outputs(trainer.strategy.batch_to_device(batch), heads)
            nan = torch.full((len(labels),), float("nan"), device=labels.device)
            parts.append(CachedExits(torch.stack([logits[i].float() for i in heads] + [logits[-1].float()]),
                                     torch.stack([nan if conf[i] is None else conf[i].float() for i in heads]),
                                     labels))
    for head, mode in zip(module.net.heads, modes):
        head.train(mode)
    return CachedExits.cat(parts).cpu()
