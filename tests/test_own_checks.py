"""Each class checks its own arguments, declared once (eexit/config/arguments.py): Python callers and the command line
get the same one line, the command line naming the config key and checking before torch loads; a user's own class is
judged by its own signature, not by our key names."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import compose_cfg

from eexit.config.arguments import ARGUMENTS, check_arguments, check_declared, entry_for
from eexit.config.settings import check_config
from eexit.errors import BadArgument, EExitError
from eexit.exits import ClassPrecisionMargin, GlobalThreshold
from eexit.models.heads import Conv1dHead, ConvXHead, EENetHead


@pytest.mark.parametrize("make,says", [
    (lambda: ClassPrecisionMargin(margin=1.5), "ClassPrecisionMargin: margin=1.5 is not allowed: give a number in [0, 1)"),
    (lambda: ClassPrecisionMargin(min_support=0), "ClassPrecisionMargin: min_support=0 is not allowed"),
    (lambda: ClassPrecisionMargin(calibrate_on="some"), "ClassPrecisionMargin: calibrate_on='some' is not allowed"),
    (lambda: GlobalThreshold(sweep=["a"]), "GlobalThreshold: sweep=['a'] is not allowed"),
    (lambda: Conv1dHead((16, 8, 8), 10, width=0), "Conv1dHead: width=0 is not allowed: give an integer >= 1"),
    (lambda: ConvXHead((16, 8, 8), 10, depth=4), "ConvXHead: depth=4 is not allowed: give 1, 2 or 3 conv blocks"),
    (lambda: EENetHead((16, 8, 8), 10, block="flat"), "EENetHead: block='flat' is not allowed: give one of plain"),
])
def test_the_python_api_refuses_a_bad_argument_in_one_line(make, says):
    with pytest.raises(BadArgument) as err:
        make()
    assert str(err.value).startswith(says) and "\n" not in str(err.value)
    assert err.value.at("x").args[0].startswith(f"x.{err.value.name}=")


def test_a_recipe_checks_its_own_arguments_from_python():
    from eexit.methods import FrozenHeads
    with pytest.raises(BadArgument, match=r"FrozenHeads: epochs=0 is not allowed: give an integer >= 1"):
        FrozenHeads("mine", epochs=0, batch_size=8, loss=None, optimizer=None)
    with pytest.raises(BadArgument, match=r"FrozenHeads: feature_dtype='float16' is not allowed"):
        FrozenHeads("mine", epochs=1, batch_size=8, loss=None, optimizer=None, feature_dtype="float16")


def test_a_users_own_head_option_is_not_judged_by_our_key_names():
    """``head.block`` belongs to EENetHead; another head may have an option of that name with other values."""
    check_config(compose_cfg(["head=linear", "+head.block=flat", "+head.depth=9"]))   # no error: not ours to judge


def test_pretraining_is_one_recipe_that_checks_its_arguments_and_keeps_cache_keys():
    from omegaconf import OmegaConf

    from eexit.methods import Pretraining
    from eexit.pipeline.compose import compose
    cfg = compose_cfg()
    recipe = compose(cfg).source.pretraining            # built once, by the composition root
    assert isinstance(recipe, Pretraining) and recipe.epochs == cfg.pretrain.epochs
    # how the recipe is built is not part of what determines the backbone: cache entries keep their keys
    given = {k: v for k, v in OmegaConf.to_container(cfg.pretrain, resolve=True).items() if not k.startswith("_")}
    assert recipe.settings() == given and set(given) == {"epochs", "label_smoothing", "optimizer", "scheduler"}
    with pytest.raises(BadArgument, match=r"Pretraining: label_smoothing=1.0 is not allowed: give a number in \[0, 1\)"):
        Pretraining(epochs=1, optimizer=None, label_smoothing=1.0)


ROOT = Path(__file__).resolve().parents[1]
WITHOUT_ARGUMENTS = {"LinearHead", "BackboneOnly",   # nothing of theirs to check
                     "AggregateOnMultirunEnd", "SweepFolderCheck", "wandb_logger"}   # Hydra callbacks, W&B


def eexit_targets() -> set[str]:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            target = node.get("_target_")
            if isinstance(target, str) and target.startswith("eexit."):
                found.add(target.rsplit(".", 1)[-1])
            for value in node.values():
                walk(value)
    for path in (ROOT / "eexit" / "conf").rglob("*.yaml"):
        walk(yaml.safe_load(path.read_text()))
    return found


def test_every_eexit_class_a_config_builds_declares_its_arguments():
    undeclared = {t for t in eexit_targets() if entry_for(t) is None} - WITHOUT_ARGUMENTS
    assert not undeclared and "Conv1dHead" in ARGUMENTS


def test_the_command_line_and_the_class_give_the_same_verdict():
    from eexit.models.heads import Conv1dHead
    with pytest.raises(EExitError, match=r"^head\.width=0 is not allowed: give an integer >= 1$"):
        check_declared({"head": {"_target_": "eexit.models.heads.Conv1dHead", "width": 0}})
    with pytest.raises(BadArgument, match=r"^Conv1dHead: width=0 is not allowed: give an integer >= 1$"):
        Conv1dHead((16, 8, 8), 10, width=0)
    with pytest.raises(EExitError, match=r"^method\.boosted\.folds=1 is not allowed"):   # nested nodes too
        check_declared({"method": {"_target_": "eexit.methods.FrozenHeads",
                                   "boosted": {"_target_": "eexit.training.BoostedTraining", "folds": 1}}})


def test_a_users_own_class_is_not_judged_by_ours_but_a_subclass_of_ours_is_held_to_its_base():
    check_declared({"loss": {"_target_": "mypackage.losses.CostAwareLoss", "version": "mine"}})
    from eexit.data import DigitsDataModule

    class MyDigits(DigitsDataModule):
        pass
    with pytest.raises(BadArgument, match=r"^MyDigits: batch_size=0 is not allowed"):
        MyDigits(batch_size=0)
    check_arguments("NotOurs", anything=object())


@pytest.mark.parametrize("override,says", [
    ("head.width=0", "head.width=0 is not allowed: give an integer >= 1"),
    ("calibrator.margin=abc", "calibrator.margin='abc' is not allowed"),
    ("method.boosted.folds=1", "method.boosted.folds=1 is not allowed: give an integer >= 2"),
    ("calibrator=patience calibrator.threshold=1.5", "calibrator.threshold=1.5 is not allowed: give a whole number >= 1 "
                                                     "(score patience)"),
])
def test_a_bad_class_argument_is_refused_without_loading_torch_or_lightning(override, says):
    code = ("import sys\nfrom hydra import compose, initialize_config_dir\nfrom eexit.config.settings import check_config\n"
            f"with initialize_config_dir(version_base='1.3', config_dir={str(ROOT / 'eexit' / 'conf')!r}):\n"
            f"    cfg = compose('config', overrides={override.split()!r})\n"
            "try:\n    check_config(cfg)\nexcept Exception as exc:\n    print(exc)\n"
            "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "[]" and lines[0].startswith(says), out.stdout + out.stderr
