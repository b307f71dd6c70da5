"""Obtain the trained backbone: from the user's weights file, from the backbone cache, or by training it.

Training is the ``pretrain`` recipe (``eexit.methods.Pretraining``: plain classification through the same
``EarlyExitModule``, a network with no heads); validation and test accuracy come from
``trainer.validate``/``trainer.test``. A trained backbone is cached under a key derived from everything that
determines it (:meth:`BackboneStage.spec`), including the content fingerprint of the data, so two datasets never
share an entry. The stage is built once from typed parts and walks one way: build, then load, hit or train.
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch

from eexit.distributed import is_global_zero
from eexit.errors import EExitError
from eexit.files.locks import exclusive
from eexit.pipeline.backbone_cache import cache_key, cache_path, load_entry, save_entry
from eexit.pipeline.parts import BackboneSource, Trainers
from eexit.training.module import EarlyExitModule
from eexit.training.resume import epoch_checkpoint, resumable
from eexit.training.shard_audit import ShardAudit

log = logging.getLogger(__name__)
FEW_STEPS = 100   # fewer optimizer steps than this rarely train a backbone from scratch: a warning says so


@dataclass(frozen=True)
class BackboneInfo:
    """Where the run's backbone came from and how good it is (``source``: ``trained``, ``cache`` or a weights file)."""

    source: str
    val_acc: float
    test_acc: float
    cache_path: str | None = None
    train_seconds: float | None = None
    data_parallel: dict | None = None

    @property
    def weights_file(self) -> str | None:
        """The file holding the frozen backbone's weights (its cache entry, or the user's file), if any."""
        if self.source not in ("cache", "trained"):
            return self.source
        return self.cache_path if self.cache_path and Path(self.cache_path).is_file() else None


def accuracies(trainer: L.Trainer, module: EarlyExitModule, dm) -> dict:
    """Validation and test accuracy of the final exit, as exact fractions of each split's size
    (the logged metric is float32; ``round(acc * n) / n`` recovers the count it came from)."""
    out = {}
    for split, run in (("val", trainer.validate), ("test", trainer.test)):
        acc = run(module, datamodule=dm, verbose=False)[0][f"backbone/{split}/acc/final"]
        n = dm.num_samples(split)
        out[f"{split}_acc"] = round(float(acc) * n) / n
    return out


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


@dataclass(frozen=True)
class BackboneStage:
    """The backbone of one run: ``source`` (how to build, load, cache or train it), the image DataModule ``dm``
    (set up), the run's ``trainers`` and the ``device`` it ends on."""

    source: BackboneSource
    dm: object
    trainers: Trainers
    device: torch.device

    def spec(self) -> dict:
        """Everything that determines the trained backbone (the cache key's input): the data (identity, content,
        batching, augmentation), the model, the seed, the pretraining recipe, the precision and every Trainer
        setting that changes the weights."""
        s = self.source
        return {"data": self.dm.describe(), "data_fingerprint": self.dm.fingerprint(), "backbone": s.config,
                "num_classes": self.dm.num_classes, "seed": s.seed, "pretrain": s.pretraining.settings(),
                "precision": s.precision, "trainer": s.trainer_key}

    def entry(self, arch: str) -> tuple[Path, str]:
        """The cache entry's path and key for a backbone of architecture ``arch``."""
        key = cache_key(self.spec())
        return cache_path(self.source.cache_dir, arch, self.dm.name, key).resolve(), key

    def obtain(self) -> tuple[torch.nn.Module, BackboneInfo]:
        """``(backbone in eval mode on the device, info)``. ``pretrain.epochs=0`` keeps a pretrained backbone as it
        is (only measured, then cached)."""
        s, dm = self.source, self.dm
        backbone = s.build(num_classes=dm.num_classes, weights=s.weights)
        backbone.feature_shapes(dm.image_shape)                            # images large enough, before any work
        if getattr(backbone, "input_mean", None) is not None and not s.data_normalized:   # as its weights expect
            dm.use_normalization(backbone.input_mean, backbone.input_std)
            log.info("data: normalised with %s's pretrained mean %s and std %s", backbone.arch, dm.mean, dm.std)
        if backbone.new_classifier and s.pretraining.epochs == 0:
            raise EExitError(f"{backbone.arch}'s pretrained weights have other classes than {dm.name}'s "
                             f"{dm.num_classes}, so its classifier is new and untrained; fine-tune it first with "
                             f"pretrain.epochs=N (or give backbone.weights of your own trained model)")
        if s.weights:
            module = s.pretraining.classifier(backbone)
            info = BackboneInfo(str(Path(s.weights).resolve()), **accuracies(self.trainers(1), module, dm))
            log.info("backbone: loaded weights from %s (test acc %.4f)", info.source, info.test_acc)
            return backbone.to(self.device).eval(), info
        path, key = self.entry(backbone.arch)
        if not s.cache or not is_global_zero():   # a DDP copy trains in step with rank 0, which alone stores it
            hit = self.cached(path, key, backbone, warn=False) if s.cache else None
            return hit or self.train(backbone, path, store=False)
        hit = self.cached(path, key, backbone, warn=False)                # said once, under the lock
        if hit is not None:
            return hit
        with exclusive(path.with_suffix(".lock"), f"backbone {path.stem}",   # concurrent jobs: one trains
                       stale=[path.parent / f".{path.name}.*.tmp", path.parent / f".{path.stem}.json.*.tmp"]):
            return self.cached(path, key, backbone) or self.train(backbone, path, store=True)

    def cached(self, path: Path, key: str, backbone, warn: bool = True):
        entry = load_entry(path, key, warn)
        if entry is None:
            return None
        if {k: tuple(v.shape) for k, v in entry["state_dict"].items()} != \
                {k: tuple(v.shape) for k, v in backbone.state_dict().items()}:   # checked before loading any
            if warn:
                log.warning("backbone cache %s holds weights of another shape than %s; training it again", path,
                            backbone.arch)
            return None
        backbone.load_state_dict(entry["state_dict"])
        log.info("backbone cache hit: loaded %s from %s (test acc %.4f), skipping training",
                 backbone.arch, path, entry["metrics"]["test_acc"])
        metrics = {k: entry["metrics"].get(k) for k in ("val_acc", "test_acc", "train_seconds", "data_parallel")}
        return backbone.to(self.device).eval(), BackboneInfo("cache", cache_path=str(path), **metrics)

    def train(self, backbone, path: Path, store: bool):
        """Plain classification for the recipe's epochs (0: measured only); ``store``: into the cache, resuming from
        the ``.training`` checkpoint an interrupted run left beside the entry."""
        recipe, dm = self.source.pretraining, self.dm
        log.info("backbone: training %s on %s for %d epochs (cache key %s)", backbone.arch, dm.name, recipe.epochs,
                 path.stem)
        batches = -(-dm.num_samples("train") // int(dm.batch_size))
        if 0 < recipe.epochs * batches < FEW_STEPS:   # a backbone at chance makes every saving meaningless
            log.warning("backbone: only %d optimizer steps (pretrain.epochs=%d x %d batches of data.batch_size=%d); "
                        "raise pretrain.epochs or lower data.batch_size for at least %d", recipe.epochs * batches,
                        recipe.epochs, batches, dm.batch_size, FEW_STEPS)
        module, audit = recipe.classifier(backbone), ShardAudit()
        progress = path.with_suffix(".training")   # last.ckpt of an unfinished training, beside the entry
        cache = self.source.cache
        trainer = self.trainers(recipe.epochs, [audit, epoch_checkpoint(progress)], enable_checkpointing=True) \
            if cache else self.trainers(recipe.epochs, [audit])
        start = time.perf_counter()
        recipe.fit_backbone(module, dm, trainer, resumable(progress / "last.ckpt", "backbone") if cache else None)
        seconds = time.perf_counter() - start
        check_trained(backbone, recipe.epochs, trainer.global_step)
        shards = audit.report and {**audit.report, "train_samples": dm.num_samples("train")}
        metrics = {**accuracies(trainer, module, dm), "train_seconds": seconds, "data_parallel": shards}
        if store:
            save_entry(path, {k: v.cpu() for k, v in backbone.state_dict().items()}, self.spec(), metrics)
            shutil.rmtree(progress, ignore_errors=True)
            log.info("backbone: stored in cache %s", path)
        log.info("backbone: trained in %.1f s, test acc %.4f", seconds, metrics["test_acc"])
        return backbone.to(self.device).eval(), BackboneInfo("trained", cache_path=str(path), **metrics)
