"""Each of eexit's classes' arguments and what each allows, declared once and importable without torch.

The command line checks a composed config against this table before torch loads (:func:`check_declared`: every
node whose ``_target_`` is one of eexit's classes, nested nodes too), and each class checks the arguments it is
given against the same entry when it is built (:func:`check_arguments`), so a Python caller gets the same one line.
Entries are keyed by class name and looked up along the class's MRO, so a user's subclass of an eexit class is
held to its base's arguments; a ``_target_`` outside eexit is judged by nobody here. Checks that need what only a
built object knows (a kernel wider than the map it reads) stay in the class.
"""
from __future__ import annotations

import inspect
from typing import Callable

from eexit.config.names import SURVIVOR_RULES
from eexit.config.scores import declared_scores
from eexit.config.validators import (_int, _number, _sequence, count, fraction, image_size, margin, margins, one_of, optional,
                                     positive, positive_int)
from eexit.errors import BadArgument, EExitError

Check = Callable[[object], tuple[bool, str]]


def score(v):
    names = declared_scores()
    return v in names, "one of " + ", ".join(sorted(names))


def seed(v):
    return _int(v) and 0 <= v < 2 ** 32, "an integer in [0, 2**32)"


def channels(minimum: float, why: str) -> Check:
    return optional(lambda v: (_sequence(v) and len(v) == 3 and all(_number(m) and m >= minimum
                                                                                      for m in v), why))


def below_one(v):
    return _number(v) and 0 <= v < 1, "a number in [0, 1)"


IMAGE_DATA = {
    "batch_size": positive_int, "eval_batch_size": positive_int, "seed": seed, "crop_padding": count,
    "val_size": lambda v: ((_int(v) and v >= 1) or (_number(v) and not _int(v) and 0 < v < 1),
                           "an integer >= 1 or a fraction of train in (0, 1)"),
    "flip": one_of(True, False, None), "download": one_of(True, False), "placement": one_of("auto", "cpu", "cuda"),
    "pad_fill": one_of("zero", "mean"),
    "mean": channels(float("-inf"), "3 numbers, one per channel"),
    "std": channels(1e-3, "3 numbers >= 0.001, one per channel (pixels lie in [0, 1]: a smaller std scales them by "
                          "over 1000 and the backbone's BatchNorm statistics overflow)"),
}
FILE_DATA = {**IMAGE_DATA, "image_size": optional(image_size), "resize": optional(positive_int),
             "storage": one_of("auto", "memory", "stream"), "num_workers": count, "memory_limit_gb": positive}
HELD_OUT = {"test_size": positive_int}   # digits: source images held out for test
BACKBONE = {"weights": optional(lambda v: (isinstance(v, str) and v.strip() != "", "a state_dict file")),
            "num_classes": lambda v: (_int(v) and v >= 2, "an integer >= 2")}
EXIT_TRAINING = {"epochs": positive_int, "batch_size": positive_int, "targets": one_of("labels", "backbone")}
FROZEN = {**EXIT_TRAINING, "feature_cache": one_of("auto", True, False), "feature_dtype": one_of("bfloat16", "float32"),
          "compare_nonboosted": one_of(True, False), "feature_augment": one_of(True, False)}

ARGUMENTS: dict[str, dict[str, Check]] = {
    # data
    "ImageDataModule": IMAGE_DATA, "CIFAR10DataModule": IMAGE_DATA, "CIFAR100DataModule": IMAGE_DATA,
    "MNISTDataModule": IMAGE_DATA, "CINIC10DataModule": IMAGE_DATA,
    "DigitsDataModule": {**IMAGE_DATA, **HELD_OUT},
    "DistortedDigitsDataModule": {**IMAGE_DATA, **HELD_OUT, "copies": positive_int, "skew": positive},
    "SyntheticDataModule": {**IMAGE_DATA, "train_size": positive_int, "val_size": positive_int,
                            "test_size": positive_int, "image_size": image_size,
                            "num_classes": lambda v: (_int(v) and v >= 2, "an integer >= 2")},
    "SVHNDataModule": {**IMAGE_DATA, "use_extra": one_of(True, False)},
    "FileImageDataModule": FILE_DATA,
    "ImageFolderDataModule": {**FILE_DATA, "test_size": optional(positive_int)},
    "TinyImageNetDataModule": FILE_DATA, "ImageNetDataModule": FILE_DATA,
    # backbones
    "cifar_resnet": {**BACKBONE, "depth": lambda v: (_int(v) and v >= 8 and (v - 2) % 6 == 0,
                                                     "6n+2 with n >= 1: 8, 14, 20, 32, 44, 56, 110, ...")},
    "vgg_bn": {**BACKBONE, "depth": one_of(11, 13, 16, 19)},
    "resnet18": BACKBONE, "densenet121": BACKBONE, "timm_backbone": BACKBONE, "torchvision_backbone": BACKBONE,
    "module_backbone": {**BACKBONE, "example_size": positive_int},
    # heads
    "Conv1dHead": {"width": positive_int, "kernel_size": positive_int, "layers": positive_int, "pool_to": positive_int},
    "ConvXHead": {"depth": lambda v: (_int(v) and 1 <= v <= 3, "1, 2 or 3 conv blocks")},
    "EENetHead": {"block": one_of("plain", "pool", "bnpool")},
    # calibrators
    "GlobalThreshold": {"score": score, "threshold": lambda v: (_number(v) and v >= 0, "a number >= 0"),
                        "sweep": optional(lambda v: (_sequence(v) and len(v) > 0 and all(
                            _number(t) for t in v), "a non-empty list of thresholds"))},
    "ClassPrecisionMargin": {"score": score, "margin": margin, "margins": margins,
                             "margin_form": one_of("additive", "multiplicative"),
                             "precision_reference": one_of("labels", "backbone"),
                             "calibrate_on": one_of("survivors", "all"), "min_support": positive_int},
    # recipes, their losses, the boosted-training callback, schedules
    "Pretraining": {"epochs": count, "label_smoothing": below_one},
    "ExitTraining": EXIT_TRAINING, "JointTraining": EXIT_TRAINING, "Mixed": EXIT_TRAINING, "FrozenHeads": FROZEN,
    "ZTW": {**FROZEN, "ensemble_epochs": positive_int},
    "BoostedTraining": {"epochs_per_stage": positive_int, "min_pool": count, "batch_size": positive_int,
                        "survivors": one_of(*SURVIVOR_RULES), "folds": lambda v: (_int(v) and v >= 2, "an integer >= 2"),
                        "soft_temperature": positive},
    "ExitCrossEntropy": {"label_smoothing": below_one},
    "CostAwareLoss": {"version": one_of("v0", "v1", "v2", "v3", "v4"), "lam": lambda v: (_number(v) and v >= 0,
                                                                                          "a number >= 0"),
                      "two_stage_epochs": count, "cost_convention": one_of("cumulative", "own_head"),
                      "v4_weighting": one_of("reference", "balanced"), "epochs": positive_int},
    "SDNLoss": {"epochs": positive_int, "max_weights": optional(lambda v: (_sequence(v) and all(
        _number(w) and w >= 0 for w in v), "a list of head weights >= 0"))},
    "ChannelsLast": {"enabled": one_of("auto", True, False)}, "Compile": {"enabled": one_of(True, False)},
    "warmup_cosine": {"warmup_epochs": lambda v: (_number(v) and v >= 0, "a number >= 0")},
    "one_cycle": {"pct_start": fraction},
}


def entry_for(owner) -> tuple[str, dict[str, Check]] | None:
    """``(name, declared arguments)`` of ``owner`` (a class, an instance, a function or a name), along the MRO."""
    if isinstance(owner, str):
        return (owner, ARGUMENTS[owner]) if owner in ARGUMENTS else None
    chain = owner.__mro__ if isinstance(owner, type) else [owner] if inspect.isfunction(owner) else type(owner).__mro__
    for klass in chain:
        if klass.__name__ in ARGUMENTS:
            return klass.__name__, ARGUMENTS[klass.__name__]
    return None


def check_arguments(owner, **values) -> None:
    """A :class:`~eexit.errors.BadArgument` for the first of ``values`` its declared check refuses (arguments the
    entry does not declare are not judged here)."""
    found = entry_for(owner)
    if found is None:
        return
    name, declared = found
    for arg, value in values.items():
        if arg in declared:
            ok, allowed = declared[arg](value)
            if not ok:
                raise BadArgument(owner if isinstance(owner, str) else getattr(owner, "__name__", type(owner).__name__),
                                  arg, value, allowed)


def check_declared(config: dict, path: str = "") -> None:
    """Every node of a composed, resolved ``config`` whose ``_target_`` is one of eexit's: its declared arguments,
    one line naming the key (``head.width=0 is not allowed: give an integer >= 1``)."""
    if isinstance(config, dict):
        target = str(config.get("_target_", ""))
        found = entry_for(target.rsplit(".", 1)[-1]) if target.startswith("eexit.") else None
        for key, value in config.items():
            where = f"{path}.{key}" if path else str(key)
            if found and key in found[1]:
                ok, allowed = found[1][key](value)
                if not ok:
                    raise EExitError(f"{where}={value!r} is not allowed: give {allowed}")
            check_declared(value, where)
