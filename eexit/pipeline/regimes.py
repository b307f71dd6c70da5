"""Train and evaluate a method's heads: every method goes through ``train_regime``.

A method (``conf/method/``) is configuration: which backbone (the frozen pretrained one,
or a fresh one trained jointly), the loss, optimizer, schedule, targets, and for BTS-EE
the ``BoostedTraining`` callback. With a frozen backbone the heads train on a
``FeatureDataModule`` (features computed once, stored in the cache); jointly trained
networks train on images. BTS-EE also trains the same heads without the callback
(``method.compare_nonboosted``) and reports both.
"""
from __future__ import annotations

import logging
import shutil
import time

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from eexit.costs import exit_costs
from eexit.data.features import FeatureDataModule
from eexit.exits import CachedExits
from eexit.models.early_exit import EarlyExitNet, build_exit_net
from eexit.pipeline.build import build_loss, epoch_checkpoint, make_trainer, resumable, with_objects
from eexit.pipeline.evaluate import compare, evaluate_regime, publish
from eexit.pipeline.feature_source import feature_source
from eexit.pipeline.fits import available_memory
from eexit.placement import attach_points as place
from eexit.training.module import EarlyExitModule

log = logging.getLogger(__name__)
EVAL_BATCH = 1024


def attach_points(ctx, backbone) -> list[int]:
    return place(ctx.cfg.placement, backbone, ctx.dm.image_shape)


def build_net(ctx, backbone) -> EarlyExitNet:
    """Heads at the configured placement; initialised from ``seed`` right before they are
    built, so every regime of a run starts from identical heads."""
    attach = attach_points(ctx, backbone)
    torch.manual_seed(ctx.cfg.seed)
    return build_exit_net(backbone, attach, ctx.head, ctx.dm.num_classes, ctx.dm.image_shape).to(ctx.device)


def build_joint_net(ctx) -> EarlyExitNet:
    """A fresh backbone and heads, from ``seed``, to train together (EENets)."""
    torch.manual_seed(ctx.cfg.seed)
    backbone = instantiate(ctx.cfg.backbone, num_classes=ctx.dm.num_classes, weights=None)
    return build_exit_net(backbone, attach_points(ctx, backbone), ctx.head, ctx.dm.num_classes,
                          ctx.dm.image_shape).to(ctx.device)


def predicted(trainer, module, loader) -> CachedExits:
    """Every exit's output over a split, through ``trainer.predict``."""
    return CachedExits.cat(trainer.predict(module, dataloaders=loader)).cpu()


def train_regime(ctx, name: str, data: FeatureDataModule | None, boosted: bool) -> dict:
    """Train one set of heads (``data``: cached features; ``None``: joint training on images)."""
    cfg, m, phase = ctx.cfg, ctx.cfg.method, ctx.phases
    joint = data is None
    with phase(f"{name}/build"):
        net = build_joint_net(ctx) if joint else build_net(ctx, ctx.backbone)
        costs = exit_costs(net, ctx.dm.image_shape)
        loss = build_loss(m.loss, costs=costs, num_train=ctx.dm.num_samples("train"), seed=cfg.seed)
        module = EarlyExitModule(net, loss, instantiate(m.optimizer), instantiate(m.scheduler) if m.scheduler else None,
                                 backbone_trainable=joint, targets=m.targets, prefix=name)
        callbacks, epochs = [], int(m.epochs)
        if boosted:
            callbacks.append(with_objects(m.boosted, calibrator=ctx.calibrator))
            epochs = callbacks[0].max_epochs(net.num_exits)
        progress = ctx.run_dir / "checkpoints" / f"{name}.training"   # joint training resumes from here
        if joint:
            trainer = make_trainer(cfg, ctx.loggers, epochs, [*callbacks, epoch_checkpoint(progress)],
                                   enable_checkpointing=True)
        else:   # heads on cached features: one process (cheap; DDP serves backbone training)
            trainer = make_trainer(cfg, ctx.loggers, epochs, callbacks, devices=1, strategy="auto")
    start = time.perf_counter()
    if joint:
        trainer.fit(module, ctx.dm.loader("train", train=True, batch_size=m.batch_size, with_index=True,
                                          shard_by=trainer),
                    ctx.dm.loader("val", shard_by=trainer), ckpt_path=resumable(progress / "last.ckpt", name))
        shutil.rmtree(progress, ignore_errors=True)
        loaders = ctx.dm.loader("val"), ctx.dm.loader("test")
    else:
        data.set_train_pool(None, 0)   # every regime starts from the whole training split
        trainer.fit(module, datamodule=data)
        loaders = data.loader("val", batch_size=EVAL_BATCH), data.loader("test", batch_size=EVAL_BATCH)
    extra = {"train_seconds": time.perf_counter() - start}
    phase.add(f"{name}/train", extra["train_seconds"])
    last = trainer.callback_metrics.get(f"{name}/train/loss")
    log.info("%s: trained %d epochs in %.1f s%s", name, trainer.current_epoch, extra["train_seconds"],
             "" if last is None else f", final train loss {float(last):.3f}")
    with phase(f"{name}/predict"):
        val, test = (predicted(trainer, module, loader) for loader in loaders)
    if boosted:
        extra["stages"] = callbacks[0].stages
    if getattr(loss, "needs_confidence", False):
        extra["loss"] = OmegaConf.to_container(m.loss, resolve=True)
    if joint:
        extra["final_exit_test_acc"] = float((test.backbone_pred == test.labels).double().mean())
    return evaluate_regime(ctx, net, costs, val, test, name, extra, whole_network=joint)


def run_method(ctx, results: dict) -> dict[str, list]:
    """All regimes of the configured method into ``results``; returns the curves to plot."""
    m = ctx.cfg.method
    if m.name == "backbone":
        return {}
    data = None
    store = m.feature_cache
    if store == "auto" and m.backbone == "frozen":
        gpu_free = torch.cuda.mem_get_info()[0] if ctx.device.type == "cuda" else None
        store, why = feature_source(ctx.plan, bool(getattr(ctx.dm, "streaming", False)), gpu_free, available_memory())
        log.info("features (method.feature_cache=auto): %s", why)
    if m.backbone == "frozen":
        with ctx.phases("features"):   # extracted (or loaded) once, before any regime's clock starts
            data = FeatureDataModule.for_net(   # what each head reads, reduced as the head reduces it
                ctx.dm, build_net(ctx, ctx.backbone), cache_dir=ctx.cfg.cache_dir, store=store, seed=ctx.cfg.seed,
                dtype=m.get("feature_dtype", "bfloat16"), batch_size=m.batch_size, eval_batch_size=EVAL_BATCH)
            data.setup()
    regimes = {m.regime: train_regime(ctx, m.regime, data, boosted=m.get("boosted") is not None)}
    if m.get("compare_nonboosted"):
        regimes["nonboosted"] = train_regime(ctx, "nonboosted", data, boosted=False)
        results["comparison"] = compare(regimes, m.regime, "nonboosted")
    return publish(results, regimes, m.regime)
