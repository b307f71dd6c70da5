"""``BoostedTraining``: BTS-EE's staged training in one ``trainer.fit`` (methods.md §1).

Stage k lasts ``epochs_per_stage`` epochs and trains head k alone: every other head is
frozen (no gradients, eval mode). At the end of stage k the callback calibrates head k on
the validation samples that heads < k keep (the calibrator, e.g. CPM, sees them as
survivors), freezes it, and shrinks the training pool to the samples heads <= k do not
exit; the DataModule serves the smaller pool from the next epoch, and the next stage
starts with a fresh optimizer and learning-rate schedule over it. A stage whose pool is
smaller than ``min_pool`` is skipped (its head stays untrained but is still calibrated).

Stage, thresholds and both pools are in ``state_dict`` (the DataModule checkpoints the
pool it serves), so a run resumed from a checkpoint taken at the end of any epoch (take
them with ``ModelCheckpoint(save_on_train_epoch_end=True)``) ends as an uninterrupted one.
Needs a DataModule with ``set_train_pool``, ``num_samples`` and ``loader`` (``FeatureDataModule``).
"""
from __future__ import annotations

import logging
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from eexit.exits.cached import CachedExits
from eexit.exits.policy import ExitPolicy
from eexit.exits.rule import passes
from eexit.training.module import EarlyExitModule, set_trainable

log = logging.getLogger(__name__)


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


class BoostedTraining(L.Callback):
    """Args:
        calibrator: fits a head's per-class thresholds (``eexit.exits.calibrators``, e.g. CPM).
        epochs_per_stage: epochs each head trains (the Trainer needs ``epochs_per_stage x heads``).
        min_pool: a stage with fewer surviving training samples is skipped.
        batch_size: batch size of the passes that find which samples leave.
    """

    def __init__(self, calibrator, epochs_per_stage: int, min_pool: int = 32, batch_size: int = 2048):
        self.calibrator, self.epochs_per_stage = calibrator, int(epochs_per_stage)
        self.min_pool, self.batch_size = int(min_pool), int(batch_size)
        self.stage, self.stage_start = 0, 0
        self.thresholds: torch.Tensor | None = None   # [E, K]; NaN rows: not calibrated yet
        self.alive_train: torch.Tensor | None = None
        self.alive_val: torch.Tensor | None = None
        self.stages: list[dict] = []
        self._clock = 0.0

    def max_epochs(self, num_exits: int) -> int:
        return self.epochs_per_stage * num_exits

    @property
    def policy(self) -> ExitPolicy:
        """The calibrated exit policy (after fit)."""
        return ExitPolicy(self.calibrator.score, self.thresholds)

    # -- Lightning hooks -------------------------------------------------------------------
    def setup(self, trainer, pl_module, stage):
        dm = trainer.datamodule
        if not all(hasattr(dm, a) for a in ("set_train_pool", "num_samples", "loader")):
            raise TypeError("BoostedTraining needs a DataModule with set_train_pool/num_samples/loader "
                            "(eexit.data.features.FeatureDataModule)")
        trainer.reload_dataloaders_every_n_epochs = 1   # the pool shrinks between stages
        pl_module.schedule_epochs = self.epochs_per_stage

    def on_fit_start(self, trainer, pl_module):
        if any(isinstance(c, ModelCheckpoint) and not c._should_save_on_train_epoch_end(trainer)
               for c in trainer.callbacks):   # a checkpoint taken before the stage change would resume wrongly
            raise ValueError("BoostedTraining changes stage at the end of a training epoch: "
                             "use ModelCheckpoint(save_on_train_epoch_end=True)")
        net, dm = pl_module.net, trainer.datamodule
        if self.thresholds is None:   # a fresh run (a resumed one has its state from the checkpoint)
            self.thresholds = torch.full((net.num_exits, net.backbone.num_classes), float("nan"))
            self.alive_train = torch.ones(dm.num_samples("train"), dtype=torch.bool)
            self.alive_val = torch.ones(dm.num_samples("val"), dtype=torch.bool)
            if int(self.alive_train.sum()) < self.min_pool:
                raise ValueError(f"BoostedTraining: the training split has {int(self.alive_train.sum())} samples, "
                                 f"fewer than min_pool={self.min_pool}")
            self._begin(trainer, pl_module, 0, trainer.current_epoch)
        else:
            self._freeze_all_but(pl_module, self.stage)
        self._clock = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.stage_start and self.stage > 0:
            trainer.strategy.setup_optimizers(trainer)   # fresh optimizer and schedule over the new pool

    def on_fit_end(self, trainer, pl_module):
        trainer.datamodule.set_train_pool(None, 0)   # every sample and block again, for whatever comes next

    def on_train_epoch_end(self, trainer, pl_module):
        if self.stage >= pl_module.net.num_exits or \
                trainer.current_epoch + 1 - self.stage_start < self.epochs_per_stage:
            return
        self._finish(trainer, pl_module, trained=True)
        self._begin(trainer, pl_module, self.stage + 1, trainer.current_epoch + 1)

    # -- stages ----------------------------------------------------------------------------
    def _freeze_all_but(self, module: EarlyExitModule, k: int) -> None:
        for i, head in enumerate(module.net.heads):
            set_trainable(head, i == k)

    def _begin(self, trainer, module: EarlyExitModule, k: int, epoch: int) -> None:
        """Start stage k at ``epoch``, skipping stages whose pool is too small."""
        while k < module.net.num_exits and int(self.alive_train.sum()) < self.min_pool:
            log.info("boosted stage %d: only %d training samples survive (< min_pool %d); head left untrained",
                        k, int(self.alive_train.sum()), self.min_pool)
            self.stage = k
            self._freeze_all_but(module, -1)
            self._finish(trainer, module, trained=False)
            k += 1
        self.stage, self.stage_start = k, epoch
        if k >= module.net.num_exits:
            trainer.should_stop = True
            return
        self._freeze_all_but(module, k)
        blocks = None if getattr(module.loss, "needs_all_exits", False) else [k]   # only head k's features are read
        trainer.datamodule.set_train_pool(self.alive_train.nonzero().squeeze(1), self.stage_start, blocks)

    def _finish(self, trainer, module: EarlyExitModule, trained: bool) -> None:
        """Calibrate head k on the validation survivors, freeze it, drop the samples it exits."""
        k, dm = self.stage, trainer.datamodule
        set_trainable(module.net.heads[k], False)
        val = collect(trainer, module, dm.loader("val", batch_size=self.batch_size, blocks=list(range(k + 1))),
                      list(range(k + 1)))
        self.thresholds[k] = self.calibrator.thresholds(val, fixed=self.thresholds[:k + 1])[k]
        score = self.calibrator.score
        leave_val = passes(val.scores(score)[k], val.head_pred[k], self.thresholds[k])
        train = collect(trainer, module, dm.loader("train", batch_size=self.batch_size, blocks=[k]), [k])
        leave_train = passes(train.scores(score)[0], train.head_pred[0], self.thresholds[k])
        now = time.perf_counter()
        self.stages.append({"head": k, "trained": trained, "train_pool": int(self.alive_train.sum()),
                            "train_exited": int((leave_train & self.alive_train).sum()),
                            "val_pool": int(self.alive_val.sum()), "val_exited": int((leave_val & self.alive_val).sum()),
                            "seconds": now - self._clock})
        self._clock = now
        if trained:
            log.info("boosted stage %d: trained on %d samples, %d exit here", k, self.stages[-1]["train_pool"],
                     self.stages[-1]["train_exited"])
        self.alive_train &= ~leave_train
        self.alive_val &= ~leave_val

    # -- checkpointing ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"stage": self.stage, "stage_start": self.stage_start, "thresholds": self.thresholds,
                "alive_train": self.alive_train, "alive_val": self.alive_val, "stages": self.stages}

    def load_state_dict(self, state: dict) -> None:
        self.stage, self.stage_start, self.stages = state["stage"], state["stage_start"], list(state["stages"])
        self.thresholds, self.alive_train, self.alive_val = state["thresholds"], state["alive_train"], state["alive_val"]
