"""Every setting checked before any work starts: one line naming the key, its value and what is allowed.

Light on purpose: the ``eexit`` command calls it before torch, Lightning and W&B load, so a bad setting answers in
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

from eexit.config.arguments import check_declared
from eexit.config.names import PLACEMENT_RULES
from eexit.config.scores import declared_scores, threshold_problem
from eexit.config.validators import _int, _number, blocks, one_of, optional, positive, positive_int
from eexit.errors import EExitError

_MISSING = object()


OPTIMIZER = {   # torch's optimizers: no class of eexit owns their arguments (eexit builds them once to check them)
    "lr": positive, "momentum": lambda v: (_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": lambda v: (_number(v) and v >= 0, "a number >= 0"), "nesterov": one_of(True, False)}
CHECKS = {   # what no class owns: the run's paths and switches, placement, the objective, optimizers, the Trainer
    "seed": lambda v: (_int(v) and 0 <= v < 2 ** 32, "an integer in [0, 2**32)"),
    "cache_dir": lambda v: (isinstance(v, str) and v.strip() != "", "a folder (not empty)"),
    **{f"{recipe}.optimizer.{k}": check for recipe in ("pretrain", "method") for k, check in OPTIMIZER.items()},
    "plot": one_of("auto", True, False), "plan": one_of(True, False), "real_skip_samples": optional(positive_int),
    "time_samples": optional(positive_int),
    "budgets": lambda v: (isinstance(v, (list, tuple)) and len(v) > 0 and all(_number(b) and 0 < b <= 1 for b in v),
                          "a non-empty list of compute budgets in (0, 1] (fractions of the backbone's MACs)"),
    "backbone_cache": one_of(True, False),
    "backbone.pretrained": lambda v: (isinstance(v, (bool, str)) and v != "", "true, false or a weights name"),
    "objective.metric": one_of("saving", "accuracy"), "objective.split": one_of("val", "test"),
    "objective.drop": one_of(1, 2, 5), "objective.budget": lambda v: (_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "placement.num_exits": optional(positive_int), "placement.rule": one_of(*PLACEMENT_RULES), "placement.blocks": blocks,
    "trainer.limit_train_batches": optional(lambda v: ((_int(v) and v >= 1) or (_number(v) and 0 < v <= 1),
                                                       "an integer >= 1 or a fraction in (0, 1]")),
    "trainer.strategy": one_of("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "ddp_find_unused_parameters_true",
                               "fsdp", "single_device"),
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
    "selection.kind": one_of("validation", "risk"), "selection.risk": one_of("accuracy_gap", "prediction_gap"),
    "selection.delta": lambda v: (_number(v) and 0 < v < 100, "a gap in points, in (0, 100)"),
    "selection.alpha": lambda v: (_number(v) and 0 < v < 1, "an error level in (0, 1)"),
    "selection.calibration_share": lambda v: (_number(v) and 0 < v < 1, "a share of the validation split in (0, 1)"),
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
    if value_at(cfg, "selection.calibration_root") not in (_MISSING, None) and \
            value_at(cfg, "selection.risk") != "prediction_gap":
        raise EExitError("selection.calibration_root holds unlabelled images: only selection.risk=prediction_gap can "
                         "be calibrated on them (accuracy_gap needs labels)")
    if (root := value_at(cfg, "selection.calibration_root")) not in (_MISSING, None) and not Path(str(root)).is_dir():
        raise EExitError(f"selection.calibration_root={root}: no such folder; give a folder of unlabelled images")
    if missing := missing_keys(cfg):
        raise EExitError(f"{missing[0]} has no value and needs one (it is ??? in its yaml): give {missing[0]}=... on "
                         f"the command line or in a yaml of your own")
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
    check_declared({k: value_at(cfg, k) for k in cfg if k != "hydra"})   # each class's own arguments
    check_sizes(cfg)
    threshold, kind = value_at(cfg, "calibrator.threshold"), value_at(cfg, "calibrator.score")
    if threshold is not _MISSING and (problem := threshold_problem(kind, threshold)):
        raise EExitError(f"calibrator.threshold={threshold!r} is not allowed: give {problem}")
    head = str(value_at(cfg, "head._target_"))   # ours without a learned confidence (yours: not judged)
    if declared_scores().get(kind, {}).get("needs_confidence") and head.endswith(("Conv1dHead", "LinearHead")):
        raise EExitError(f"calibrator.score={kind} needs heads that learn a confidence (head=convx or head=eenet); "
                         f"{head.rsplit('.', 1)[-1]} has none: use calibrator=max_softmax or calibrator=cpm")
    precision = str(value_at(cfg, "trainer.precision"))
    if precision.startswith("16") and value_at(cfg, "trainer.accelerator") in ("cpu", "auto") and not gpu_present():
        raise EExitError(f"trainer.precision={precision} on a CPU is emulated and many times slower; use "
                         f"trainer.precision=bf16-mixed or 32-true here")
    if value_at(cfg, "trainer.accelerator") in ("gpu", "cuda") and not gpu_present():
        raise EExitError("trainer.accelerator=gpu but torch sees no GPU here; use trainer.accelerator=auto or cpu")


def missing_keys(cfg) -> list[str]:
    """The keys outside ``hydra`` whose value is ``???`` (a yaml's "you must give this")."""
    from omegaconf import DictConfig, OmegaConf
    found = []
    for key in cfg:
        if key == "hydra":
            continue
        if OmegaConf.is_missing(cfg, key):
            found.append(str(key))
        elif isinstance(node := cfg._get_node(key), DictConfig):
            found += [f"{key}.{k}" for k in OmegaConf.missing_keys(node)]
    return sorted(found)


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
