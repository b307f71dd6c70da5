"""Train exits with a cost-aware loss (PTEENet, EENets).

The loss needs every exit's logits, every early exit's confidence, the exits' cost
fractions and the targets; the two subclasses differ only in where the logits come
from: cached frozen-backbone features (PTEENet) or a full forward of the network
trained jointly from scratch (EENets).
"""
from __future__ import annotations

import lightning as L
import torch
from torch import nn

from eexit.errors import EExitError
from eexit.methods.heads_module import FeatureHeadsMixin
from eexit.methods.losses import cost_aware_loss, per_sample_ce, v4_tags
from eexit.methods.optim import lightning_optimizers
from eexit.trainer import to_channels_last


def require_confidence(heads) -> None:
    for h in heads:
        if not hasattr(getattr(h, "out", None), "confidence"):
            raise EExitError(f"the cost-aware loss needs heads with a learned confidence; "
                             f"{type(h).__name__} has none: use head=convx or head=eenet")


class EpochTags:
    """EENets' v4 exit tags: one per training sample, fixed for an epoch.

    Epoch e trains on the tags computed from epoch e-1's outputs (random in the first
    epoch, methods.md §3); while it trains, each batch writes the argmin of CE + λc of
    its own samples for the next epoch. Batches therefore carry sample indices."""

    def __init__(self, num_samples: int, num_exits: int, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.current = torch.randint(0, num_exits, (num_samples,), generator=gen)
        self.next = self.current.clone()

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        if self.current.device != idx.device:
            self.current, self.next = self.current.to(idx.device), self.next.to(idx.device)
        return self.current[idx]

    def record(self, idx: torch.Tensor, tags: torch.Tensor) -> None:
        self.next[idx] = tags

    def end_epoch(self) -> None:
        self.current = self.next.clone()


class CostAwareModule(L.LightningModule):
    """Args:
        params: the parameters to train.
        loss: ``{version: v0..v4, lam, divide_by_exits, two_stage_epochs}``; with
            ``two_stage_epochs`` = E > 0, v0 is used for the first E epochs (EENets' ``--two-stage``).
        costs: exit cost fractions ``[N+1]`` (``c_N`` = 1).
        optim: optimizer + schedule config.
        num_train: training samples (v4 keeps a tag per sample; its batches carry indices).
    """

    def __init__(self, loss: dict, costs: torch.Tensor, optim: dict, prefix: str, num_train: int = 0,
                 seed: int = 0):
        super().__init__()
        self.loss_cfg, self.optim, self.prefix = dict(loss), dict(optim), prefix
        self.channels_last, self.compiled = False, None  # set by eexit.trainer.prepare
        self.register_buffer("costs", costs.float())
        self.tags = EpochTags(num_train, costs.numel(), seed) if self.loss_cfg["version"] == "v4" else None
        if self.tags is not None and num_train <= 0:
            raise ValueError("loss v4 needs num_train (one exit tag per training sample)")

    def outputs(self, batch, stage: str) -> tuple[list, list, torch.Tensor, torch.Tensor | None]:
        """``(logits of every exit, confidences of the early exits, targets, sample indices or None)``."""
        raise NotImplementedError

    def trained_parameters(self):
        raise NotImplementedError

    def loss_version(self) -> str:
        return "v0" if self.current_epoch < int(self.loss_cfg.get("two_stage_epochs", 0)) else self.loss_cfg["version"]

    def training_step(self, batch, _):
        logits, conf, y, idx = self.outputs(batch, "train")
        logits, conf, lam = [z.float() for z in logits], [h.float() for h in conf], float(self.loss_cfg["lam"])
        tags = None
        if self.tags is not None:  # also during a v0 warm-up, so v4 starts from the warm network's tags
            if idx is None:
                raise ValueError("loss v4 needs batches with sample indices")
            tags = self.tags.lookup(idx)
            self.tags.record(idx, v4_tags(per_sample_ce(logits, y).detach(), self.costs, lam))
        loss = cost_aware_loss(self.loss_version(), logits, conf, self.costs, y, lam,
                               bool(self.loss_cfg.get("divide_by_exits")), tags)
        self.log(f"{self.prefix}/train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=y.numel())
        return loss

    def on_train_epoch_end(self):
        if self.tags is not None:
            self.tags.end_epoch()

    def validation_step(self, batch, _):
        logits, conf, y, _idx = self.outputs(batch, "val")
        for i, z in enumerate(logits):
            self.log(f"{self.prefix}/val/acc_exit{i}", (z.argmax(1) == y).float().mean(), on_step=False,
                     on_epoch=True, batch_size=y.numel())
        for i, h in enumerate(conf):
            self.log(f"{self.prefix}/val/conf_exit{i}", h.float().mean(), on_step=False, on_epoch=True,
                     batch_size=y.numel())

    def configure_optimizers(self):
        return lightning_optimizers(self.trained_parameters(), self.optim, self.trainer)


class FeatureCostAwareModule(FeatureHeadsMixin, CostAwareModule):
    """PTEENet: heads on cached features; the final exit is the frozen backbone's cached output."""

    def __init__(self, heads, final_logits: dict[str, torch.Tensor], **kwargs):
        super().__init__(**kwargs)
        require_confidence(heads)
        self.heads = nn.ModuleList(heads)
        self.final_logits = final_logits  # {"train": [N, K], "val": [M, K]}: the backbone's cached outputs

    def outputs(self, batch, stage):
        feats, y, idx = batch
        outs = [h(f) for h, f in zip(self.heads, feats)]
        finals = self.final_logits[stage]
        final = finals[idx.to(finals.device)].to(y.device)
        return [o.logits for o in outs] + [final], [o.confidence for o in outs], y, idx

    def trained_parameters(self):
        return self.heads.parameters()


class JointCostAwareModule(CostAwareModule):
    """EENets: backbone and exit blocks trained together from scratch on images."""

    def __init__(self, net, **kwargs):
        super().__init__(**kwargs)
        require_confidence(net.heads)
        self.net = net

    def on_after_batch_transfer(self, batch, dataloader_idx):
        return to_channels_last(batch, self.channels_last)

    def outputs(self, batch, stage):
        x, y, *idx = batch  # a third element (sample indices) when the loss keeps per-sample tags
        out = (self.net.forward_all if self.compiled is None else self.compiled)(x)
        return out.logits, out.confidences[:-1], y, (idx[0] if idx else None)

    def trained_parameters(self):
        return self.net.parameters()
