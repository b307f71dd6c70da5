"""``FrozenHeads``: exit heads trained on a frozen pretrained backbone (non-boosted, BTS-EE, PTEENet, PBEE, linear).

The backbone's features at the attach points never change, so a ``FeatureDataModule`` serves them: stored
once (reduced as each head reduces its input) or computed on every batch (``feature_cache``). With
``boosted`` (BTS-EE), a ``BoostedTraining`` callback trains the heads one after another in the same fit;
``compare_nonboosted`` also trains the same heads without it, and the run compares the two.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Iterator

import torch

from eexit.config.arguments import check_arguments
from eexit.data.features import FeatureDataModule
from eexit.files.machine import available_memory
from eexit.methods.base import Workload
from eexit.methods.boosted_report import pools_lines, skipped_notes, untrained
from eexit.methods.context import FitContext, Trained
from eexit.methods.exit_training import EVAL_BATCH, ExitTraining
from eexit.methods.feature_source import feature_source
from eexit.methods.objects import with_objects

log = logging.getLogger(__name__)
BASELINE = "nonboosted"   # the regime the boosted heads are compared with


class FrozenHeads(ExitTraining):
    """Args (beside :class:`ExitTraining`'s):
        feature_cache: ``true``: features computed once and stored under ``cache_dir`` | ``false``: computed
            on every batch (same results, slower) | ``auto``: chosen from the plan (``feature_source``).
        feature_dtype: the stored training features' dtype, ``bfloat16`` or ``float32`` (validation and test: float32).
        feature_augment: heads train on features of cropped and flipped training images, computed every epoch
            (the backbone's forward per image and epoch); validation, test and survivor decisions stay stored.
        boosted: a ``BoostedTraining`` config (its ``calibrator`` is the run's policy), or ``None``.
        compare_nonboosted: also train the heads without ``boosted`` (regime ``nonboosted``) and compare.
    """

    def __init__(self, name: str, epochs: int, batch_size: int, loss, optimizer, scheduler=None,
                 targets: str = "backbone", regime: str | None = None, feature_cache="auto",
                 feature_dtype: str = "bfloat16", boosted=None, compare_nonboosted: bool = False,
                 feature_augment: bool = False):
        super().__init__(name, epochs, batch_size, loss, optimizer, scheduler, targets, regime)
        check_arguments(type(self), feature_cache=feature_cache, feature_dtype=feature_dtype,
                        compare_nonboosted=compare_nonboosted, feature_augment=feature_augment)
        self.feature_cache, self.feature_dtype, self.feature_augment = feature_cache, feature_dtype, feature_augment
        self.boosted, self.compare_nonboosted = boosted, bool(compare_nonboosted) and boosted is not None
        if self.compare_nonboosted:
            self.comparison = (self.primary, BASELINE)

    def workload(self) -> Workload:
        b = self.boosted
        # a boosted fit trains one head per stage for epochs x stages: about the work of the non-boosted fit's
        # epochs over all heads; cross_fit survivors train folds - 1 more copies of each head on part of its pool
        units = 1 if b is None else 1 + (int(b.get("folds", 3)) - 1) * (b.get("survivors") == "cross_fit")
        fits = units + (1 if self.compare_nonboosted else 0)
        return Workload(heads=True, frozen=True, feature_cache=self.feature_cache, feature_dtype=self.feature_dtype,
                        feature_augment=self.feature_augment, batch_size=self.batch_size, head_epochs=self.epochs * fits,
                        regimes=1 + self.compare_nonboosted,
                        min_train=None if b is None else b.get("min_pool"))

    def features(self, ctx: FitContext) -> FeatureDataModule:
        store = self.feature_cache
        if store == "auto":
            gpu_free = torch.cuda.mem_get_info()[0] if ctx.device.type == "cuda" else None
            store, why = feature_source(ctx.plan, bool(getattr(ctx.dm, "streaming", False)), gpu_free,
                                        available_memory())
            log.info("features (method.feature_cache=auto): %s", why)
        with ctx.phases("features"):   # extracted (or loaded) once, before any regime's clock starts
            data = FeatureDataModule(   # what each head reads, reduced as the head reduces it
                ctx.dm, self.build_net(ctx, ctx.backbone), cache_dir=ctx.cache_dir, store=store, seed=ctx.seed,
                dtype=self.feature_dtype, batch_size=self.batch_size, eval_batch_size=EVAL_BATCH,
                augment=self.feature_augment)
            data.setup()
        return data

    def fit(self, ctx: FitContext) -> Iterator[tuple[str, Trained]]:
        data = self.features(ctx)
        yield self.primary, self.heads(ctx, data, self.primary, self.boosted)
        if self.compare_nonboosted:
            yield BASELINE, self.heads(ctx, data, BASELINE, None)

    def heads(self, ctx: FitContext, data: FeatureDataModule, name: str, boosted) -> Trained:
        with ctx.phases(f"{name}/build"):
            net = self.build_net(ctx, ctx.backbone)
            module, costs = self.module(ctx, net, name, backbone_trainable=False)
            callbacks = [] if boosted is None else [with_objects(boosted, calibrator=ctx.calibrator)]
            # heads on stored features train in one process (cheap; DDP serves backbone training)
            trainer = ctx.trainer(self.epochs, callbacks, devices=1, strategy="auto")
        data.set_train_pool(None, 0)   # every regime starts from the whole training split
        trained = self.train(ctx, name, module, costs, trainer, lambda: trainer.fit(module, datamodule=data),
                             lambda: trainer.predict(module, datamodule=data))
        if boosted is None:
            return trained
        stages = callbacks[0].stages
        return replace(trained, thresholds=callbacks[0].thresholds.clone(), method={**trained.method, "stages": stages},
                       untrained_heads=untrained(stages), summary=pools_lines(stages), notes=skipped_notes(name, stages))
