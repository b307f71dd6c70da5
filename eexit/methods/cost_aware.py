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
from eexit.methods.losses import cost_aware_loss
from eexit.methods.optim import lightning_optimizers
from eexit.trainer import to_channels_last


def require_confidence(heads) -> None:
    for h in heads:
        if not hasattr(getattr(h, "out", None), "confidence"):
            raise EExitError(f"the cost-aware loss needs heads with a learned confidence; "
                             f"{type(h).__name__} has none: use head=convx or head=eenet")


class CostAwareModule(L.LightningModule):
    """Args:
        params: the parameters to train.
        loss: ``{version: v0..v4, lam, divide_by_exits, two_stage_epochs}``; with
            ``two_stage_epochs`` = E > 0, v0 is used for the first E epochs (EENets' ``--two-stage``).
        costs: exit cost fractions ``[N+1]`` (``c_N`` = 1).
        optim: optimizer + schedule config.
    """

    def __init__(self, loss: dict, costs: torch.Tensor, optim: dict, prefix: str):
        super().__init__()
        self.loss_cfg, self.optim, self.prefix = dict(loss), dict(optim), prefix
        self.channels_last, self.compiled = False, None  # set by eexit.trainer.prepare
        self.register_buffer("costs", costs.float())

    def outputs(self, batch, stage: str) -> tuple[list, list, torch.Tensor]:
        raise NotImplementedError

    def trained_parameters(self):
        raise NotImplementedError

    def loss_version(self) -> str:
        return "v0" if self.current_epoch < int(self.loss_cfg.get("two_stage_epochs", 0)) else self.loss_cfg["version"]

    def training_step(self, batch, _):
        logits, conf, y = self.outputs(batch, "train")
        loss = cost_aware_loss(self.loss_version(), [z.float() for z in logits], [h.float() for h in conf],
                               self.costs, y, float(self.loss_cfg["lam"]), bool(self.loss_cfg.get("divide_by_exits")))
        self.log(f"{self.prefix}/train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=y.numel())
        return loss

    def validation_step(self, batch, _):
        logits, conf, y = self.outputs(batch, "val")
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
        return [o.logits for o in outs] + [final], [o.confidence for o in outs], y

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
        x, y = batch
        out = (self.net.forward_all if self.compiled is None else self.compiled)(x)
        return out.logits, out.confidences[:-1], y

    def trained_parameters(self):
        return self.net.parameters()
