"""Each class checks its own arguments: Python callers and the command line get the same one line, the command
line naming the config key; a user's own class is judged by its own signature, not by our key names."""
from __future__ import annotations

import pytest
from conftest import compose_cfg

from eexit.errors import BadArgument
from eexit.exits import ClassPrecisionMargin, GlobalThreshold
from eexit.models.heads import Conv1dHead, ConvXHead, EENetHead
from eexit.config.settings import check_config


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


def test_pretraining_is_a_recipe_that_checks_its_arguments_and_keeps_cache_keys():
    from hydra.utils import instantiate

    from eexit.methods import Pretraining, Recipe
    from eexit.pipeline.backbone import pretrain_config
    cfg = compose_cfg()
    recipe = instantiate(cfg.pretrain)
    assert isinstance(recipe, Pretraining) and isinstance(recipe, Recipe) and recipe.epochs == cfg.pretrain.epochs
    # how the recipe is built is not part of what determines the backbone: cache entries keep their keys
    assert set(pretrain_config(cfg)) == {"epochs", "label_smoothing", "optimizer", "scheduler"}
    with pytest.raises(BadArgument, match=r"Pretraining: label_smoothing=1.0 is not allowed: give a number in \[0, 1\)"):
        Pretraining(epochs=1, optimizer=None, label_smoothing=1.0)
