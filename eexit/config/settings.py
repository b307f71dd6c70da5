"""Every setting checked before any work starts: one line naming the key, its value and what is allowed.

Light on purpose: ``run.py`` calls it before torch, Lightning and W&B load, so a bad setting answers in
about a second (torch is imported only for a GPU setting).

The composed config is checked against ``CHECKS`` (a key absent from the config is not checked), then the
places a run writes to. Heads, policies and method recipes check their own arguments when built (the run
builds them in its plan, before any training; ``eexit.pipeline.build.built`` names the config key): a user's
own head may have an option called ``block`` without being judged by ours.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from omegaconf import OmegaConf

from eexit.errors import EExitError
from eexit.config.names import PLACEMENT_RULES, SCORES, SURVIVOR_RULES
from eexit.config.validators import (_int, _number, blocks, count, fraction, image_size, margin, margins, one_of,  # noqa: F401
                              optional, positive, positive_int)

_MISSING = object()


CHECKS = {
    "seed": lambda v: (_int(v) and 0 <= v < 2 ** 32, "an integer in [0, 2**32)"),
    "cache_dir": lambda v: (isinstance(v, str) and v.strip() != "", "a folder (not empty)"),
    "data.flip": one_of(True, False, None), "callbacks.compile.enabled": one_of(True, False),
    "callbacks.channels_last.enabled": one_of("auto", True, False),
    "data.mean": optional(lambda v: (isinstance(v, (list, tuple)) and len(v) == 3 and all(_number(m) for m in v),
                                     "3 numbers, one per channel")),
    "data.std": optional(lambda v: (isinstance(v, (list, tuple)) and len(v) == 3 and all(_number(m) and m >= 1e-3 for m in v),
                                    "3 numbers >= 0.001, one per channel (pixels lie in [0, 1]: a smaller std scales "
                                    "them by over 1000 and the backbone's BatchNorm statistics overflow)")),
    "data.seed": lambda v: (_int(v) and 0 <= v < 2 ** 32, "an integer in [0, 2**32)"),
    "backbone.weights": optional(lambda v: (isinstance(v, str) and v.strip() != "", "a state_dict file")),
    "pretrain.optimizer.nesterov": one_of(True, False), "method.optimizer.nesterov": one_of(True, False),
    "pretrain.optimizer.momentum": lambda v: (_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "method.optimizer.momentum": lambda v: (_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "pretrain.optimizer.weight_decay": lambda v: (_number(v) and v >= 0, "a number >= 0"),
    "method.optimizer.weight_decay": lambda v: (_number(v) and v >= 0, "a number >= 0"),
    "pretrain.scheduler.warmup_epochs": count, "method.scheduler.warmup_epochs": count,
    "trainer.limit_train_batches": optional(lambda v: ((_int(v) and v >= 1) or (_number(v) and 0 < v <= 1),
                                                       "an integer >= 1 or a fraction in (0, 1]")),
    "trainer.strategy": one_of("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "ddp_find_unused_parameters_true",
                               "fsdp", "single_device"),
    "plot": one_of("auto", True, False), "plan": one_of(True, False),
    "real_skip_samples": optional(positive_int),
    "budgets": lambda v: (isinstance(v, (list, tuple)) and len(v) > 0 and all(_number(b) and 0 < b <= 1 for b in v),
                          "a non-empty list of compute budgets in (0, 1] (fractions of the backbone's MACs)"),
    "backbone_cache": one_of(True, False),
    "data.batch_size": positive_int, "data.eval_batch_size": positive_int,
    "data.train_size": positive_int,
    "data.val_size": lambda v: ((_int(v) and v >= 1) or (_number(v) and 0 < v < 1),
                                "an integer >= 1 or a fraction of train in (0, 1)"),
    "data.test_size": optional(positive_int), "data.image_size": optional(image_size), "data.resize": optional(positive_int),
    "data.storage": one_of("auto", "memory", "stream"), "data.num_workers": count, "data.num_classes": lambda v: (_int(v) and v >= 2, "an integer >= 2"),
    "data.crop_padding": count, "data.placement": one_of("auto", "cpu", "cuda"),
    "objective.metric": one_of("saving", "accuracy"), "objective.split": one_of("val", "test"),
    "objective.drop": one_of(1, 2, 5), "objective.budget": lambda v: (_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "pretrain.epochs": count, "backbone.pretrained": lambda v: (isinstance(v, (bool, str)) and v != "",
                                                                "true, false or a weights name"), "pretrain.label_smoothing": lambda v: (_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "pretrain.optimizer.lr": positive,
    "placement.num_exits": optional(positive_int), "placement.rule": one_of(*PLACEMENT_RULES), "placement.blocks": blocks,
    # head.*, policy.margin* and the recipes' own arguments (method.epochs, ...): each class checks its own
    "policy.score": one_of(*SCORES), "policy.threshold": lambda v: (_number(v) and v >= 0, "a number >= 0"),
    "method.optimizer.lr": positive, "method.boosted.min_pool": count,
    "method.boosted.survivors": one_of(*SURVIVOR_RULES), "method.boosted.soft_temperature": positive,
    "method.boosted.folds": lambda v: (_int(v) and v >= 2, "an integer >= 2"),
    "data.copies": positive_int, "data.skew": positive,
    "method.loss.version": one_of("v0", "v1", "v2", "v3", "v4"), "method.loss.lam": lambda v: (
        _number(v) and v >= 0, "a number >= 0"), "method.loss.two_stage_epochs": count,
    "method.loss.cost_convention": one_of("cumulative", "own_head"),
    "method.loss.v4_weighting": one_of("reference", "balanced"), "method.loss.epochs": positive_int,
    "method.loss.max_weights": optional(lambda v: (isinstance(v, (list, tuple)) and all(_number(w) and w >= 0 for w in v),
                                                   "a list of head weights >= 0")),
    "trainer.accelerator": one_of("auto", "cpu", "gpu", "cuda"), "trainer.devices": positive_int,
    "trainer.precision": one_of("auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
                                "32", "16", "bf16", "64", 32, 16, 64),
    "trainer.check_val_every_n_epoch": positive_int, "trainer.log_every_n_steps": positive_int,
    # Lightning's own ranges, and what it accepts without complaint but cannot mean (a negative clip value)
    "trainer.accumulate_grad_batches": positive_int,
    "trainer.gradient_clip_val": optional(lambda v: (_number(v) and v >= 0, "a number >= 0")),
    "trainer.gradient_clip_algorithm": optional(one_of("norm", "value")),
    "trainer.num_sanity_val_steps": lambda v: (_int(v) and v >= -1, "an integer >= -1 (-1: the whole validation)"),
    "trainer.deterministic": optional(one_of(True, False, "warn")), "trainer.benchmark": optional(one_of(True, False)),
    "trainer.max_steps": lambda v: (_int(v) and (v == -1 or v >= 1), "-1 (no limit) or an integer >= 1"),
}
SET_BY_EEXIT = {   # Trainer keys eexit sets for each fit: a value here would be overridden or fight it
    "trainer.max_epochs": "pretrain.epochs and method.epochs", "trainer.min_epochs": "pretrain.epochs and method.epochs",
    "trainer.min_steps": "pretrain.epochs and method.epochs", "trainer.logger": "logger=wandb|csv|none",
    "trainer.callbacks": "the callbacks group"}


def value_at(cfg, key: str):
    node = cfg
    for part in key.split("."):
        if node is None or not OmegaConf.is_dict(node) or part not in node:
            return _MISSING
        node = node[part]
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def check_config(cfg) -> None:
    """Raise ``EExitError`` for the first setting outside what is allowed."""
    for key, check in CHECKS.items():
        value = value_at(cfg, key)
        if value is _MISSING:
            continue
        ok, allowed = check(value)
        if not ok:
            raise EExitError(f"{key}={value!r} is not allowed: give {allowed}")
    for key, instead in SET_BY_EEXIT.items():
        if value_at(cfg, key) not in (_MISSING, None):
            raise EExitError(f"{key} is set by eexit for each fit (backbone, heads): remove it and give {instead}")
    check_sizes(cfg)
    threshold, kind = value_at(cfg, "policy.threshold"), value_at(cfg, "policy.score")
    if kind == "patience" and not (_number(threshold) and threshold >= 1 and float(threshold).is_integer()):
        raise EExitError(f"policy.threshold={threshold!r} is not allowed: give a whole number of agreeing exits >= 1 "
                         f"(policy=patience)")
    head = str(value_at(cfg, "head._target_"))
    if kind == "confidence" and head.endswith(("Conv1dHead", "LinearHead")):   # ours without one (yours: not judged)
        raise EExitError(f"policy.score=confidence needs heads that learn a confidence (head=convx or head=eenet); "
                         f"{head.rsplit('.', 1)[-1]} has none: use policy=max_softmax or policy=cpm")
    precision = str(value_at(cfg, "trainer.precision"))
    if precision.startswith("16") and value_at(cfg, "trainer.accelerator") in ("cpu", "auto") and not gpu_present():
        raise EExitError(f"trainer.precision={precision} on a CPU is emulated and many times slower; use "
                         f"trainer.precision=bf16-mixed or 32-true here")
    if _number(threshold) and kind != "patience" and threshold > 1:
        raise EExitError(f"policy.threshold={threshold!r} is not allowed: give a number in [0, 1] "
                         f"(policy.score={kind} lies in [0, 1])")
    if value_at(cfg, "trainer.accelerator") in ("gpu", "cuda") and not gpu_present():
        raise EExitError("trainer.accelerator=gpu but torch sees no GPU here; use trainer.accelerator=auto or cpu")


def gpu_present() -> bool:
    import torch
    return torch.cuda.is_available()


def check_sizes(cfg) -> None:
    blocks, exits = value_at(cfg, "placement.blocks"), value_at(cfg, "placement.num_exits")
    if blocks and exits not in (None, _MISSING) and len(blocks) != exits:
        raise EExitError(f"placement.blocks={blocks} gives {len(blocks)} exits but placement.num_exits={exits}: "
                         f"give placement.num_exits={len(blocks)} (or null) with the blocks, or placement.blocks=null "
                         f"to place {exits} exits by placement.rule")
    # (synthetic data generate their validation split apart from train: any sizes go together)
    val, test = value_at(cfg, "data.val_size"), value_at(cfg, "data.test_size")
    if str(value_at(cfg, "data._target_")).endswith("DigitsDataModule") and _int(val) and _int(test) \
            and val + test >= 1797:
        raise EExitError(f"data.val_size + data.test_size = {val + test}, but digits has 1797 (source) images; "
                         "leave some for training (defaults: 360 + 360)")


def check_writable(*folders: Path | str) -> None:
    """Each folder exists or can be made, and takes a file: checked before any training."""
    for folder in folders:
        folder = Path(folder)
        probe = folder / f".eexit-write-test-{uuid.uuid4().hex}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise EExitError(f"cannot write into {folder} ({exc.strerror or exc}); give a writable folder "
                             f"(cache_dir=... for the cache, hydra.run.dir=... for the run)") from None
        if not os.access(folder, os.W_OK):
            raise EExitError(f"cannot write into {folder}; give a writable folder")
