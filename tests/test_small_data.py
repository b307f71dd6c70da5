"""Defaults that fit small data: image folders keep their own size, a batch never exceeds the split,
and too few optimizer steps for the backbone are said, naming the keys to change."""
from __future__ import annotations

import logging

from hydra.utils import instantiate

from eexit.data import DigitsDataModule
from eexit.pipeline import run_experiment
from tests.conftest import compose_cfg
from tests.test_image_files import class_tree


def test_an_image_folder_keeps_its_images_own_size(tmp_path):
    class_tree(tmp_path / "imgs", size=(48, 40))                     # PIL size: 48 wide, 40 high
    dm = instantiate(compose_cfg(["data=imagefolder", f"data.root={tmp_path / 'imgs'}", "data.val_size=2",
                                  "data.num_workers=0"]).data)
    assert dm.image_shape == (3, 40, 48)                               # not up-scaled to a default
    sized = instantiate(compose_cfg(["data=imagefolder", f"data.root={tmp_path / 'imgs'}", "data.val_size=2",
                                     "data.num_workers=0", "data.image_size=32"]).data)
    assert sized.image_shape == (3, 32, 32)


def test_a_batch_larger_than_the_training_split_is_capped_and_said(caplog):
    caplog.set_level(logging.INFO)
    dm = DigitsDataModule(batch_size=5000)
    dm.setup()
    assert dm.batch_size == 1077 == dm.num_samples("train")
    assert any("data.batch_size=5000 exceeds the 1077 training images: capped" in r.message for r in caplog.records)


def test_too_few_backbone_steps_are_said_with_the_keys_to_raise(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    cfg = compose_cfg(["data=synthetic", "data.train_size=128", "data.val_size=32", "data.test_size=32",
                       "data.batch_size=64", "pretrain.epochs=2", "method=backbone"], tmp_path)
    run_experiment(cfg, tmp_path / "run")
    warned = [r.message for r in caplog.records if "optimizer steps" in r.message]
    assert warned and "only 4 optimizer steps (pretrain.epochs=2 x 2 batches of data.batch_size=64)" in warned[0]
    assert "raise pretrain.epochs or lower data.batch_size" in warned[0]
