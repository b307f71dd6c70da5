"""Obtain the trained backbone: user weights, the backbone cache, or training it now."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from eexit.errors import EExitError
from eexit.methods.backbone_cache import cache_key, cache_path, load_entry, save_entry
from eexit.methods.classification import ClassificationModule
from eexit.models.backbones import build_backbone
from eexit.trainer import make_trainer, prepare, resolve_precision

log = logging.getLogger(__name__)


def backbone_spec(cfg, dm) -> dict:
    """Everything that determines the trained backbone (the cache key's input)."""
    return {"data": dm.describe(), "backbone": cfg.backbone.name, "num_classes": dm.num_classes,
            "seed": cfg.seed, "pretrain": OmegaConf.to_container(cfg.pretrain, resolve=True),
            "precision": resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)}


@torch.no_grad()
def accuracy(model, loader, device) -> float:
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x.to(device)).argmax(1) == y.to(device)).sum())
        total += y.numel()
    return correct / max(total, 1)


def obtain_backbone(cfg, dm, loggers, device) -> tuple[torch.nn.Module, dict]:
    """Returns ``(backbone in eval mode on device, info)``; info has val/test accuracy and the source."""
    backbone = build_backbone(cfg.backbone.name, dm.num_classes)
    if cfg.backbone.get("weights"):
        path = Path(cfg.backbone.weights)
        if not path.is_file():
            raise EExitError(f"backbone.weights={path} does not exist; give a state_dict saved with torch.save")
        state = torch.load(path, map_location="cpu", weights_only=False)
        backbone.load_state_dict(state.get("state_dict", state))
        backbone.to(device)
        info = {"source": str(path), "val_acc": accuracy(backbone, dm.val_dataloader(), device),
                "test_acc": accuracy(backbone, dm.test_dataloader(), device)}
        log.info("backbone: loaded weights from %s (test acc %.4f)", path, info["test_acc"])
        return backbone.eval(), info

    spec = backbone_spec(cfg, dm)
    path = cache_path(cfg.cache_dir, cfg.backbone.name, dm.name, cache_key(spec))
    entry = load_entry(path) if cfg.backbone_cache else None
    if entry is not None:
        backbone.load_state_dict(entry["state_dict"])
        log.info("backbone cache hit: loaded %s from %s (test acc %.4f), skipping training",
                 cfg.backbone.name, path, entry["metrics"]["test_acc"])
        return backbone.to(device).eval(), {**entry["metrics"], "source": "cache", "cache_path": str(path)}

    log.info("backbone: training %s on %s for %d epochs (cache key %s)",
             cfg.backbone.name, dm.name, cfg.pretrain.epochs, path.stem)
    module = ClassificationModule(backbone, OmegaConf.to_container(cfg.pretrain.optim, resolve=True),
                                  dm.num_classes, cfg.pretrain.label_smoothing)
    prepare(module, backbone, cfg.trainer)
    trainer = make_trainer(cfg.trainer, loggers, cfg.pretrain.epochs)
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    backbone.to(memory_format=torch.contiguous_format)
    seconds = time.perf_counter() - start
    backbone.to(device)
    metrics = {"val_acc": accuracy(backbone, dm.val_dataloader(), device),
               "test_acc": accuracy(backbone, dm.test_dataloader(), device), "train_seconds": seconds}
    for lg in loggers:
        lg.log_metrics({"test/acc": metrics["test_acc"], "val/acc_final": metrics["val_acc"]})
    if cfg.backbone_cache:
        save_entry(path, {k: v.cpu() for k, v in backbone.state_dict().items()}, spec, metrics)
        log.info("backbone: stored in cache %s", path)
    log.info("backbone: trained in %.1f s, test acc %.4f", seconds, metrics["test_acc"])
    return backbone.eval(), {**metrics, "source": "trained", "cache_path": str(path)}
