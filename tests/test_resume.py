"""A killed backbone pretraining resumes from its last epoch and ends as an uninterrupted one."""
from __future__ import annotations

import logging

import lightning as L
import pytest
import torch
from conftest import compose_cfg

from eexit.pipeline import run_experiment


class CrashAtEpoch(L.Callback):
    """Stands in for ``kill -9``: stops the process's work at the start of ``epoch``."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


SMALL = ["data=synthetic", "data.train_size=256", "data.val_size=64", "data.test_size=64", "backbone=resnet20",
         "pretrain.epochs=3", "method=backbone"]


def entry_weights(cache):
    (entry,) = (cache / "backbones").glob("*.pt")
    return torch.load(entry, weights_only=False)["state_dict"]


def test_killed_pretraining_resumes_from_its_last_epoch(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    whole = run_experiment(compose_cfg(SMALL + [f"cache_dir={tmp_path / 'a'}"]), tmp_path / "whole")
    crash = ["+callbacks.crash._target_=test_resume.CrashAtEpoch", "+callbacks.crash.epoch=2"]
    with pytest.raises(BaseException):
        run_experiment(compose_cfg(SMALL + crash + [f"cache_dir={tmp_path / 'b'}"]), tmp_path / "killed")
    assert not list((tmp_path / "b" / "backbones").glob("*.pt"))                  # nothing cached ...
    (last,) = (tmp_path / "b" / "backbones").glob("*.training/last.ckpt")         # ... but the progress kept
    assert torch.load(last, weights_only=False)["epoch"] == 1
    resumed = run_experiment(compose_cfg(SMALL + [f"cache_dir={tmp_path / 'b'}"]), tmp_path / "resumed")
    assert any("resuming an interrupted training" in r.message and "(2 epochs done)" in r.message
               for r in caplog.records)
    assert resumed["backbone_test_acc"] == whole["backbone_test_acc"]
    a, b = entry_weights(tmp_path / "a"), entry_weights(tmp_path / "b")
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    assert not list((tmp_path / "b" / "backbones").glob("*.training"))            # removed once cached


def test_killed_joint_training_resumes_when_rerun_into_its_folder(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    joint = ["data=synthetic", "data.train_size=256", "data.val_size=64", "data.test_size=64", "backbone=resnet20",
             "pretrain.epochs=1", "method=eenets", "method.epochs=3", f"cache_dir={tmp_path / 'cache'}"]
    whole = run_experiment(compose_cfg(joint), tmp_path / "whole")
    crash = ["+callbacks.crash._target_=test_resume.CrashAtEpoch", "+callbacks.crash.epoch=2"]
    with pytest.raises(BaseException):
        run_experiment(compose_cfg(joint + crash), tmp_path / "job")
    assert torch.load(tmp_path / "job" / "checkpoints" / "eenets.training" / "last.ckpt", weights_only=False)["epoch"] == 1
    resumed = run_experiment(compose_cfg(joint), tmp_path / "job")
    assert any("eenets: resuming an interrupted training" in r.message for r in caplog.records)
    assert resumed["regimes"]["eenets"]["curve"] == whole["regimes"]["eenets"]["curve"]
    assert not (tmp_path / "job" / "checkpoints" / "eenets.training").exists()
