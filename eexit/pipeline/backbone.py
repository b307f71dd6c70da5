"""Obtain the trained backbone: from ``backbone.weights``, from the backbone cache, or by training it.

Training is the ``pretrain`` recipe (``eexit.methods.Pretraining``: plain classification through the same
``EarlyExitModule``, a network with no heads); validation and test accuracy come from
``trainer.validate``/``trainer.test``. A trained backbone is cached under a key derived
from everything that determines it (``backbone_spec``), including the content
fingerprint of the data, so two datasets never share an entry.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from eexit.distributed import is_global_zero
from eexit.errors import EExitError
from eexit.files.locks import exclusive
from eexit.pipeline.backbone_cache import cache_key, cache_path, load_entry, save_entry
from eexit.pipeline.build import built, make_trainer, resolve_precision
from eexit.training.module import EarlyExitModule
from eexit.training.resume import epoch_checkpoint, resumable
from eexit.training.shard_audit import ShardAudit

log = logging.getLogger(__name__)


FEW_STEPS = 100   # fewer optimizer steps than this rarely train a backbone from scratch: a warning says so


def backbone_config(cfg) -> dict:
    """The backbone's constructor config without its weights file."""
    out = OmegaConf.to_container(cfg.backbone, resolve=True)
    out.pop("weights", None)
    return out


# Trainer settings that only change what is shown, logged or checked, never the trained weights; every
# other one (limit_train_batches, max_steps, accumulation, clipping, devices, strategy, ...) is in the key
PRESENTATION = {"_target_", "accelerator", "precision", "enable_progress_bar", "enable_checkpointing",
                "enable_model_summary", "num_sanity_val_steps", "log_every_n_steps", "check_val_every_n_epoch",
                "limit_val_batches", "limit_test_batches", "limit_predict_batches", "val_check_interval",
                "default_root_dir", "benchmark", "profiler", "barebones"}


def backbone_spec(cfg, dm) -> dict:
    """Everything that determines the trained backbone (the cache key's input): the data (identity, content,
    batching, augmentation), the model, the seed, the whole pretraining recipe, the precision and every
    Trainer setting outside ``PRESENTATION``."""
    trainer = {k: v for k, v in OmegaConf.to_container(cfg.trainer, resolve=True).items()
               if k not in PRESENTATION and v is not None}
    return {"data": dm.describe(), "data_fingerprint": dm.fingerprint(), "backbone": backbone_config(cfg),
            "num_classes": dm.num_classes, "seed": cfg.seed, "pretrain": pretrain_config(cfg),
            "precision": resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator), "trainer": trainer}


def pretrain_config(cfg) -> dict:
    """The pretraining recipe's settings (without how it is built: a cache key stays the same across that)."""
    return {k: v for k, v in OmegaConf.to_container(cfg.pretrain, resolve=True).items()
            if k not in ("_target_", "_recursive_")}


def pretraining(cfg):
    """The ``pretrain`` recipe (``eexit.methods.Pretraining``); it checks its own arguments."""
    return built("pretrain", lambda: instantiate(cfg.pretrain))


def classification_module(cfg, backbone) -> EarlyExitModule:
    return pretraining(cfg).module(backbone)


def accuracies(trainer: L.Trainer, module: EarlyExitModule, dm) -> dict:
    """Validation and test accuracy of the final exit, as exact fractions of each split's size
    (the logged metric is float32; ``round(acc * n) / n`` recovers the count it came from)."""
    out = {}
    for split, run in (("val", trainer.validate), ("test", trainer.test)):
        acc = run(module, datamodule=dm, verbose=False)[0][f"backbone/{split}/acc/final"]
        n = dm.num_samples(split)
        out[f"{split}_acc"] = round(float(acc) * n) / n
    return out


def adopt_normalization(cfg, dm, backbone) -> None:
    """A pretrained library backbone sees the data normalised as its weights expect, unless the
    data config sets its own ``mean``/``std``."""
    if getattr(backbone, "input_mean", None) is not None and cfg.data.get("mean") is None:
        dm.use_normalization(backbone.input_mean, backbone.input_std)
        log.info("data: normalised with %s's pretrained mean %s and std %s", backbone.arch, dm.mean, dm.std)


def obtain_backbone(cfg, dm, loggers, device) -> tuple[torch.nn.Module, dict]:
    """Returns ``(backbone in eval mode on device, info)``; info has val/test accuracy and the source.
    ``pretrain.epochs=0`` keeps a pretrained backbone as it is (only measured, then cached)."""
    backbone = instantiate(cfg.backbone, num_classes=dm.num_classes)   # loads backbone.weights when given
    backbone.feature_shapes(dm.image_shape)                            # images large enough, before any work
    adopt_normalization(cfg, dm, backbone)
    if backbone.new_classifier and cfg.pretrain.epochs == 0:
        raise EExitError(f"{backbone.arch}'s pretrained weights have other classes than {dm.name}'s "
                         f"{dm.num_classes}, so its classifier is new and untrained; fine-tune it first with "
                         f"pretrain.epochs=N (or give backbone.weights of your own trained model)")
    if cfg.backbone.get("weights"):
        path = str(Path(cfg.backbone.weights).resolve())
        info = {"source": path, **accuracies(make_trainer(cfg, loggers, 1), classification_module(cfg, backbone), dm)}
        log.info("backbone: loaded weights from %s (test acc %.4f)", path, info["test_acc"])
        return backbone.to(device).eval(), info

    spec = backbone_spec(cfg, dm)
    path = cache_path(cfg.cache_dir, backbone.arch, dm.name, cache_key(spec)).resolve()
    if not cfg.backbone_cache:
        return train_backbone(cfg, dm, loggers, device, backbone, path, spec, store=False)
    hit = cached_backbone(path, cache_key(spec), backbone, device, warn=False)   # said once, under the lock
    if hit is not None:
        return hit
    if not is_global_zero():   # a DDP copy trains in step with rank 0, which alone stores the entry
        return train_backbone(cfg, dm, loggers, device, backbone, path, spec, store=False)
    with exclusive(path.with_suffix(".lock"), f"backbone {path.stem}",   # concurrent jobs: one trains
                   stale=[path.parent / f".{path.name}.*.tmp", path.parent / f".{path.stem}.json.*.tmp"]):
        hit = cached_backbone(path, cache_key(spec), backbone, device)     # stored while we waited
        return hit if hit is not None else train_backbone(cfg, dm, loggers, device, backbone, path, spec, store=True)


def cached_backbone(path: Path, key: str, backbone, device, warn: bool = True) -> tuple[torch.nn.Module, dict] | None:
    entry = load_entry(path, key, warn)
    if entry is None:
        return None
    want = {k: tuple(v.shape) for k, v in backbone.state_dict().items()}
    if {k: tuple(v.shape) for k, v in entry["state_dict"].items()} != want:   # checked before loading any
        if warn:
            log.warning("backbone cache %s holds weights of another shape than %s; training it again", path,
                        backbone.arch)
        return None
    backbone.load_state_dict(entry["state_dict"])
    log.info("backbone cache hit: loaded %s from %s (test acc %.4f), skipping training",
             backbone.arch, path, entry["metrics"]["test_acc"])
    return backbone.to(device).eval(), {**entry["metrics"], "source": "cache", "cache_path": str(path)}


def check_trained(backbone, epochs: int, steps: int) -> None:
    """A trained backbone is one that took optimizer steps and whose weights and BatchNorm statistics are finite;
    anything else stops the run in one line, before it is measured, cached or reported."""
    if epochs > 0 and steps == 0:
        raise EExitError(f"backbone: pretrain.epochs={epochs} took no optimizer step (the trainer settings, e.g. "
                         f"limit_train_batches, left no batch); nothing was cached or reported")
    bad = [k for k, v in backbone.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise EExitError(f"backbone: after training, {', '.join(bad[:2])} hold NaN or inf (the training diverged: "
                         f"inputs scaled far beyond [0, 1] by data.std, or too high a pretrain.optimizer.lr); "
                         f"nothing was cached or reported")


def train_backbone(cfg, dm, loggers, device, backbone, path: Path, spec: dict, store: bool):
    """Plain classification for ``pretrain.epochs`` (0: measured only); ``store``: into the cache,
    resuming from the ``.training`` checkpoint an interrupted run left beside the entry."""
    log.info("backbone: training %s on %s for %d epochs (cache key %s)", backbone.arch, dm.name, cfg.pretrain.epochs,
             path.stem)
    steps = cfg.pretrain.epochs * -(-dm.num_samples("train") // int(dm.batch_size))
    if 0 < steps < FEW_STEPS:   # a backbone at chance makes every saving meaningless (results say so too)
        log.warning("backbone: only %d optimizer steps (pretrain.epochs=%d x %d batches of data.batch_size=%d); "
                    "raise pretrain.epochs or lower data.batch_size for at least %d", steps, cfg.pretrain.epochs,
                    -(-dm.num_samples("train") // int(dm.batch_size)), dm.batch_size, FEW_STEPS)
    recipe, audit = pretraining(cfg), ShardAudit()
    module = recipe.module(backbone)
    progress = path.with_suffix(".training")   # last.ckpt of an unfinished training, beside the entry
    if cfg.backbone_cache:
        trainer = make_trainer(cfg, loggers, cfg.pretrain.epochs, [audit, epoch_checkpoint(progress)],
                               enable_checkpointing=True)
    else:
        trainer = make_trainer(cfg, loggers, cfg.pretrain.epochs, [audit])
    resume = resumable(progress / "last.ckpt", "backbone") if cfg.backbone_cache else None
    start = time.perf_counter()
    recipe.train(module, dm, trainer, resume)
    seconds = time.perf_counter() - start
    check_trained(backbone, cfg.pretrain.epochs, trainer.global_step)
    shards = audit.report and {**audit.report, "train_samples": dm.num_samples("train")}
    metrics = {**accuracies(trainer, module, dm), "train_seconds": seconds, "data_parallel": shards}
    if store:
        save_entry(path, {k: v.cpu() for k, v in backbone.state_dict().items()}, spec, metrics)
        shutil.rmtree(progress, ignore_errors=True)
        log.info("backbone: stored in cache %s", path)
    log.info("backbone: trained in %.1f s, test acc %.4f", metrics["train_seconds"], metrics["test_acc"])
    return backbone.to(device).eval(), {**metrics, "source": "trained", "cache_path": str(path)}
