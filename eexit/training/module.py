"""``EarlyExitModule``: one LightningModule for every training scheme.

It holds an :class:`~eexit.models.early_exit.EarlyExitNet` (a backbone with exit heads;
no heads for plain backbone training) and a loss object. What differs between BTS-EE,
non-boosted, PTEENet, EENets and pretraining is configuration (loss, which parts train,
targets) and callbacks (``BoostedTraining``), not this code.

Which parts train follows ``requires_grad``: the backbone when ``backbone_trainable``, and
every head whose parameters require gradients (``BoostedTraining`` freezes all heads but
the current one). Frozen parts stay in eval mode, so their BatchNorm statistics never move.
Batches are a frozen backbone's features (``eexit.data.feature_batch.FeatureBatch``, which ``FeatureDataModule``
serves whether it stored them or computes them on the fly), or images ``(x, y[, idx])`` for a network the module
runs whole (joint training, backbone pretraining, evaluation from Python).
"""
from __future__ import annotations

import lightning as L
import torch
import torchmetrics
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn

from eexit.data.feature_batch import FeatureBatch
from eexit.errors import EExitError, TrainingDiverged
from eexit.exits.cached import CachedExits
from eexit.models.early_exit import EarlyExitNet
from eexit.training.losses import LossInputs

TARGETS = ("labels", "backbone")


def trainable(module: nn.Module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def set_trainable(module: nn.Module, flag: bool) -> nn.Module:
    """Gradients on or off, and the matching mode (eval: BatchNorm statistics fixed).

    Not Lightning's ``BaseFinetuning.freeze``: it turns BatchNorm's ``track_running_stats``
    off, after which a frozen head would normalise with batch statistics even in eval mode."""
    for p in module.parameters():
        p.requires_grad_(flag)
    return module.train(flag)


class EarlyExitModule(L.LightningModule):
    """Args:
        net: the backbone with exit heads.
        loss: a loss taking :class:`~eexit.training.losses.LossInputs` (``eexit/training/losses.py``).
        optimizer: ``optimizer(params)`` (a ``functools.partial``; ``_partial_: true`` in yaml); None: not for training.
        scheduler: optional ``scheduler(optimizer, epochs=, steps_per_epoch=)``, stepped per batch.
        backbone_trainable: False keeps the backbone frozen (eval mode, no gradients); True trains it.
        targets: ``labels`` or ``backbone`` (the frozen backbone's argmax: pseudo-labels).
        prefix: metric name prefix (``boosted``, ``pteenet``, ``backbone``, ...).
    """

    def __init__(self, net: EarlyExitNet, loss: nn.Module, optimizer=None, scheduler=None,
                 backbone_trainable: bool = False, targets: str = "labels", prefix: str = ""):
        super().__init__()
        # the plain settings; network, loss and optimizer are objects a checkpoint does not pickle (it stays loadable
        # with torch's weights_only=True): EarlyExitModule.load_from_checkpoint(path, net=..., loss=...)
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler"], logger=False)
        if targets not in TARGETS:
            raise EExitError(f"targets={targets} is unknown; choose labels or backbone")
        if backbone_trainable and targets == "backbone":
            raise EExitError("targets=backbone needs a frozen backbone; a trained one cannot label its own data")
        if getattr(loss, "needs_confidence", False):
            lacking = [type(h).__name__ for h in net.heads if not getattr(h, "learns_confidence", False)]
            if lacking:
                raise EExitError(f"the cost-aware loss needs heads with a learned confidence; {lacking[0]} has none: "
                                 f"use heads that learn one (ConvXHead, EENetHead)")
        self.net, self.loss, self.optimizer, self.scheduler = net, loss, optimizer, scheduler
        self.backbone_trainable, self.targets, self.prefix = backbone_trainable, targets, prefix
        self.schedule_epochs: int | None = None          # LR schedule length; BoostedTraining sets it per stage
        self.input_memory_format = torch.contiguous_format   # ChannelsLast sets channels_last
        self.compiled = None                              # Compile sets torch.compile(net)
        self._nonfinite: torch.Tensor | None = None       # any NaN/inf training loss this epoch (device flag)
        set_trainable(net.backbone, backbone_trainable)
        k = net.backbone.num_classes
        self.val_acc = nn.ModuleList(torchmetrics.Accuracy(task="multiclass", num_classes=k)
                                     for _ in range(net.num_exits + 1))
        self.test_acc = nn.ModuleList(torchmetrics.Accuracy(task="multiclass", num_classes=k)
                                      for _ in range(net.num_exits + 1))
        self.trained_exits = self._trained_exits()

    # -- which parts train -----------------------------------------------------------------
    def _trained_exits(self) -> list[int]:
        heads = [i for i in range(self.net.num_exits) if trainable(self.net.exit_module(i))]
        return heads + ([self.net.num_exits] if self.backbone_trainable else [])

    def on_train_epoch_start(self) -> None:
        self.net.backbone.train(self.backbone_trainable)
        for head in self.net.heads:
            head.train(trainable(head))
        self.trained_exits = self._trained_exits()
        if hasattr(self.loss, "on_train_epoch_start"):
            self.loss.on_train_epoch_start(self.current_epoch)

    def on_validation_epoch_start(self) -> None:   # also before the first epoch (sanity check)
        self.trained_exits = self._trained_exits()

    def on_train_epoch_end(self) -> None:
        if hasattr(self.loss, "on_train_epoch_end"):
            self.loss.on_train_epoch_end()
        if self._nonfinite is not None and bool(self._nonfinite):   # one host sync per epoch, not per step
            raise TrainingDiverged(self.prefix or "training", self.current_epoch + 1)
        self._nonfinite = None

    # -- forward ---------------------------------------------------------------------------
    def exit_outputs(self, batch, heads: list[int] | None = None):
        """``(logits of every exit, early-exit confidences, labels, sample indices or None)``;
        heads not in ``heads`` (default: all) are skipped and give ``None``."""
        wanted = range(self.net.num_exits) if heads is None else heads
        if isinstance(batch, FeatureBatch):
            feats, final, labels, idx = batch.feats, batch.final, batch.labels, batch.idx
        else:
            x, labels, *rest = batch
            idx = rest[0] if rest else None
            x = x.contiguous(memory_format=self.input_memory_format)
            if self.backbone_trainable and heads is None:
                out = (self.compiled or self.net)(x)
                return out.logits, out.confidences[:-1], labels, idx
            with torch.set_grad_enabled(self.backbone_trainable and torch.is_grad_enabled()):
                feats, final = self.net.features(x)
        outs = self.net.heads_on(feats, list(wanted))
        return ([o.logits if o else None for o in outs] + [final], [o.confidence if o else None for o in outs],
                labels, idx)

    def metric(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def targets_for(self, logits: list, labels: torch.Tensor) -> torch.Tensor:
        return labels if self.targets == "labels" else logits[-1].argmax(1)

    def training_step(self, batch, batch_idx):
        heads = None if getattr(self.loss, "needs_all_exits", False) else \
            [i for i in self.trained_exits if i < self.net.num_exits]
        logits, conf, labels, idx = self.exit_outputs(batch, heads)
        y = self.targets_for(logits, labels)
        loss = self.loss(LossInputs(logits, conf, y, idx, self.trained_exits))
        bad = ~torch.isfinite(loss.detach())
        self._nonfinite = bad if self._nonfinite is None else self._nonfinite | bad
        self.log(self.metric("train/loss"), loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y),
                 sync_dist=True)   # the mean over every DDP process (a no-op in one)
        return loss

    def _log_accuracy(self, batch, split: str, metrics: nn.ModuleList) -> None:
        """Per-exit accuracy against the labels: during a fit, of the exits being trained (a boosted
        stage validates its own head); in ``trainer.validate``/``test``, of every exit."""
        fitting = self.trainer.state.fn == TrainerFn.FITTING
        exits = self.trained_exits if fitting else range(self.net.num_exits + 1)
        logits, _, labels, _ = self.exit_outputs(batch, [i for i in exits if i < self.net.num_exits])
        for i in exits:
            metrics[i](logits[i], labels)
            name = "final" if i == self.net.num_exits else f"exit{i}"
            self.log(self.metric(f"{split}/acc/{name}"), metrics[i], on_step=False, on_epoch=True,
                     batch_size=len(labels))

    def validation_step(self, batch, batch_idx):
        self._log_accuracy(batch, "val", self.val_acc)

    def test_step(self, batch, batch_idx):
        self._log_accuracy(batch, "test", self.test_acc)

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0) -> CachedExits:
        """Every exit's output on the batch (what the cached evaluation keeps), in float32 even
        under mixed precision: thresholds calibrated on it are used by the float32 deployed path."""
        with torch.autocast(self.device.type, enabled=False):
            logits, conf, labels, _ = self.exit_outputs(batch)
        nan = torch.full((len(labels),), float("nan"), device=labels.device)
        confs = [nan if c is None else c.float() for c in conf]
        return CachedExits(torch.stack([z.float() for z in logits]),
                           torch.stack(confs) if confs else nan.new_empty(0, len(labels)), labels)

    # -- optimisation ----------------------------------------------------------------------
    def parameters_to_optimize(self) -> list[nn.Parameter]:
        """Every head's parameters (a frozen head has no gradient, and optimizers skip it) and
        the backbone's when it trains, so the optimizer's layout never changes between stages."""
        return [p for name, p in self.net.named_parameters()
                if self.backbone_trainable or not name.startswith("backbone.")]

    def configure_optimizers(self):
        if self.optimizer is None:
            raise EExitError(f"{self.prefix or 'EarlyExitModule'}: no optimizer was given; pass optimizer= to train")
        optimizer = self.optimizer(self.parameters_to_optimize())
        if self.scheduler is None:
            return optimizer
        epochs = max(1, int(self.trainer.max_epochs))
        steps = max(1, int(self.trainer.estimated_stepping_batches) // epochs)   # batches in the current epoch
        scheduler = self.scheduler(optimizer, epochs=self.schedule_epochs or epochs, steps_per_epoch=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

