"""``BoostedTraining``: BTS-EE's staged training in one ``trainer.fit`` (docs/methods.md, `bts`).

Stage k lasts ``epochs_per_stage`` epochs and trains head k alone: every other head is frozen (no gradients,
eval mode). At the end of stage k the callback calibrates head k on the validation samples that heads < k keep
(the calibrator, e.g. CPM, sees them as survivors), freezes it, and shrinks the training pool to the samples
heads <= k do not exit, as the survivor rule decides (``survivors``: eexit/training/survivors.py; ``soft`` keeps
every sample and down-weights it instead); the DataModule serves the smaller pool from the next epoch, and the
next stage starts with a fresh optimizer and learning-rate schedule over it. A stage whose pool is smaller than
``min_pool`` is skipped (its head stays untrained but is still calibrated).

Stage, thresholds and both pools are in ``state_dict`` (the DataModule checkpoints the pool it serves), so a
run resumed from a checkpoint taken at the end of any epoch (take them with
``ModelCheckpoint(save_on_train_epoch_end=True)``) ends as an uninterrupted one. Needs a DataModule with
``set_train_pool``, ``num_samples`` and ``loader`` (``FeatureDataModule``).
"""
from __future__ import annotations

import copy
import logging
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from eexit.config.arguments import check_arguments
from eexit.errors import EExitError
from eexit.exits.policy import ExitPolicy
from eexit.exits.rule import passes
from eexit.training.cross_fit import out_of_fold
from eexit.training.head_outputs import collect
from eexit.training.module import EarlyExitModule, set_trainable
from eexit.training.survivors import check_rule, keep_probability, rate_matched, soft_temperature

log = logging.getLogger(__name__)


class BoostedTraining(L.Callback):
    """Args:
        calibrator: fits a head's per-class thresholds (``eexit.exits.calibrators``, e.g. CPM).
        epochs_per_stage: epochs each head trains (the callback sets the Trainer's ``max_epochs`` to this x heads).
        min_pool: a stage with fewer surviving training samples is skipped.
        batch_size: batch size of the passes that find which samples leave.
        survivors: which training samples the next head trains on (``eexit/training/survivors.py``):
            ``in_sample`` | ``rate_matched`` | ``cross_fit`` | ``soft``.
        folds: ``cross_fit``'s number of folds.
        soft_temperature: ``soft``'s temperature, as a share of the spread of the validation scores.
    """

    def __init__(self, calibrator, epochs_per_stage: int, min_pool: int = 32, batch_size: int = 2048,
                 survivors: str = "cross_fit", folds: int = 3, soft_temperature: float = 0.1):
        check_arguments(type(self), epochs_per_stage=epochs_per_stage, min_pool=min_pool, batch_size=batch_size,
                        survivors=survivors, folds=folds, soft_temperature=soft_temperature)
        self.calibrator, self.epochs_per_stage = calibrator, int(epochs_per_stage)
        self.min_pool, self.batch_size = int(min_pool), int(batch_size)
        self.survivors, self.folds, self.soft_temperature = check_rule(survivors), int(folds), float(soft_temperature)
        self.weights: torch.Tensor | None = None     # soft: probability earlier heads keep each sample
        self.head_init: dict | None = None           # cross_fit: the current head's weights before training
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
            raise EExitError("BoostedTraining needs a DataModule with set_train_pool/num_samples/loader "
                             "(eexit.data.features.FeatureDataModule)")
        trainer.reload_dataloaders_every_n_epochs = 1   # the pool shrinks between stages
        trainer.fit_loop.max_epochs = self.max_epochs(pl_module.net.num_exits)   # one stage per head, whatever the Trainer had
        pl_module.schedule_epochs = self.epochs_per_stage

    def on_fit_start(self, trainer, pl_module):
        if any(isinstance(c, ModelCheckpoint) and not c._should_save_on_train_epoch_end(trainer)
               for c in trainer.callbacks):   # a checkpoint taken before the stage change would resume wrongly
            raise EExitError("BoostedTraining changes stage at the end of a training epoch: "
                             "use ModelCheckpoint(save_on_train_epoch_end=True)")
        net, dm = pl_module.net, trainer.datamodule
        if self.thresholds is None:   # a fresh run (a resumed one has its state from the checkpoint)
            self.thresholds = torch.full((net.num_exits, net.backbone.num_classes), float("nan"))
            self.alive_train = torch.ones(dm.num_samples("train"), dtype=torch.bool)
            self.alive_val = torch.ones(dm.num_samples("val"), dtype=torch.bool)
            self.weights = torch.ones(len(self.alive_train)) if self.survivors == "soft" else None
            if int(self.alive_train.sum()) < self.min_pool:
                raise EExitError(f"BoostedTraining: the training split has {int(self.alive_train.sum())} samples, "
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
        while k < module.net.num_exits and self.pool_size() < self.min_pool:
            log.info("boosted stage %d: only %d training samples survive (< min_pool %d); head left untrained",
                     k, self.pool_size(), self.min_pool)
            self.stage = k
            self._freeze_all_but(module, -1)
            self._finish(trainer, module, trained=False)
            k += 1
        self.stage, self.stage_start = k, epoch
        if k >= module.net.num_exits:
            trainer.should_stop = True
            return
        self._freeze_all_but(module, k)
        self.head_init = copy.deepcopy(module.net.heads[k].state_dict()) if self.survivors == "cross_fit" else None
        blocks = None if getattr(module.loss, "needs_all_exits", False) else [k]   # only head k's features are read
        trainer.datamodule.set_train_pool(self.alive_train.nonzero().squeeze(1), self.stage_start, blocks, self.weights)

    def pool_size(self) -> int:
        """Samples the current stage trains on (``soft``: the sum of their weights)."""
        return round(float(self.weights.sum())) if self.weights is not None else int(self.alive_train.sum())

    def _finish(self, trainer, module: EarlyExitModule, trained: bool) -> None:
        """Calibrate head k on the validation survivors, freeze it, drop (or down-weight) what it exits."""
        k, dm, score = self.stage, trainer.datamodule, self.calibrator.score
        set_trainable(module.net.heads[k], False)
        val = collect(trainer, module, dm.loader("val", batch_size=self.batch_size, blocks=list(range(k + 1))),
                      list(range(k + 1)))
        self.thresholds[k] = self.calibrator.thresholds(val, fixed=self.thresholds[:k + 1])[k]
        val_scores, val_pred = val.scores(score)[k], val.head_pred[k]
        leave_val = passes(val_scores, val_pred, self.thresholds[k])
        pool, scores, pred = self.pool_size(), None, None
        if not (self.survivors == "cross_fit" and trained):   # cross_fit judges out of fold: no in-sample pass
            train = collect(trainer, module, dm.loader("train", batch_size=self.batch_size, blocks=[k]), [k])
            scores, pred = train.scores(score)[0], train.head_pred[0]
        if self.survivors == "soft":
            t = soft_temperature(val_scores[self.alive_val], self.soft_temperature)
            keep = keep_probability(scores, pred, self.thresholds[k], t)
            exited, self.weights = round(float((self.weights * (1 - keep)).sum())), self.weights * keep
        else:
            leave = self._leave_train(trainer, module, trained, scores, pred, val_pred, leave_val)
            exited = int((leave & self.alive_train).sum())
            self.alive_train &= ~leave
        now = time.perf_counter()
        self.stages.append({"head": k, "trained": trained, "survivors": self.survivors, "train_pool": pool,
                            "train_exited": exited, "val_pool": int(self.alive_val.sum()),
                            "val_exited": int((leave_val & self.alive_val).sum()), "seconds": now - self._clock})
        self._clock = now
        if trained:
            log.info("boosted stage %d: trained on %d samples, %d exit here (survivors: %s)", k, pool, exited,
                     self.survivors)
        self.alive_val &= ~leave_val

    def _leave_train(self, trainer, module, trained: bool, scores, pred, val_pred, leave_val) -> torch.Tensor:
        """The training samples head k exits, by the survivor rule (a skipped ``cross_fit`` stage, whose head
        never trained, judges in sample: there is nothing to cross-fit)."""
        k, thresholds = self.stage, self.thresholds[self.stage]
        if self.survivors == "rate_matched":
            return rate_matched(scores, pred, self.alive_train, val_pred, self.alive_val, leave_val,
                                thresholds.numel(), getattr(self.calibrator, "per_class", False))
        if self.survivors == "cross_fit" and trained:
            idx, oof = out_of_fold(trainer, module, k, self.head_init, self.alive_train.nonzero().squeeze(1),
                                   self.folds, self.epochs_per_stage, 1000 * trainer.datamodule.seed + k,
                                   self.batch_size)
            leave = torch.zeros_like(self.alive_train)
            leave[idx] = passes(oof.scores(self.calibrator.score)[0], oof.head_pred[0], thresholds)
            return leave
        return passes(scores, pred, thresholds)

    # -- checkpointing ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"stage": self.stage, "stage_start": self.stage_start, "thresholds": self.thresholds,
                "alive_train": self.alive_train, "alive_val": self.alive_val, "stages": self.stages,
                "weights": self.weights, "head_init": self.head_init}

    def load_state_dict(self, state: dict) -> None:
        self.stage, self.stage_start, self.stages = state["stage"], state["stage_start"], list(state["stages"])
        self.thresholds, self.alive_train, self.alive_val = state["thresholds"], state["alive_train"], state["alive_val"]
        self.weights, self.head_init = state.get("weights"), state.get("head_init")
