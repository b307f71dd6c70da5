"""Faults and the last bad inputs: unreadable images read by workers, exports of changed files, untrained or
diverged backbones, a full disk in each phase (then room again), temporaries of dead writers."""
from __future__ import annotations

import errno
import json
import os
import runpy
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import compose_cfg

from eexit.errors import EExitError
from eexit.files.atomic import is_temporary, remove_stale, temporary
from eexit.files.torch_files import FORCE
from eexit.pipeline import run_experiment

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["data=synthetic", "data.train_size=256", "data.val_size=64", "data.test_size=64", "backbone=resnet20",
         "pretrain.epochs=1", "method=nonboosted", "method.epochs=1", "logger=none", "trainer.enable_progress_bar=false"]


@pytest.mark.parametrize("damage", [b"", b"this is text named .png", "truncated"])
def test_an_unreadable_image_read_by_a_worker_is_one_line(tmp_path, damage):
    from test_image_files import class_tree
    class_tree(tmp_path / "imgs", size=(16, 16))
    bad = tmp_path / "imgs" / "train" / "dog" / "2.png"
    bad.write_bytes(bad.read_bytes()[:40] if damage == "truncated" else damage)
    cfg = compose_cfg(["data=imagefolder", f"data.root={tmp_path / 'imgs'}", "data.val_size=2", "data.storage=stream",
                       "data.num_workers=1", "method=backbone", "pretrain.epochs=1", f"cache_dir={tmp_path / 'c'}"])
    with pytest.raises(EExitError) as err:
        run_experiment(cfg, tmp_path / "run")
    assert str(err.value).startswith(f"{bad} is not a readable image (") and "\n" not in str(err.value), str(err.value)


def test_exporting_into_a_file_or_with_a_changed_weights_file_is_one_line(tmp_path, capsys, monkeypatch):
    from eexit.deploy.checkpoint import save_exit_checkpoint
    from eexit.exits import ExitPolicy
    from eexit.deploy.export import main
    from eexit.models.backbones import cifar_resnet
    from eexit.models.early_exit import build_exit_net
    from eexit.models.heads import LinearHead
    monkeypatch.setenv(FORCE, "0")
    net = build_exit_net(cifar_resnet(20), [3, 6], LinearHead, 10, (3, 32, 32))
    weights = tmp_path / "entry.pt"
    torch.save({"state_dict": net.backbone.state_dict()}, weights)
    config = {"backbone": {"_target_": "eexit.models.backbones.cifar_resnet", "depth": 20},
              "head": {"_target_": "eexit.models.heads.LinearHead", "_partial_": True}, "data": {}}
    ckpt = tmp_path / "boosted.pt"
    save_exit_checkpoint(ckpt, net, ExitPolicy.global_threshold("max_softmax", 0.9, 2, 10), config, str(weights),
                         (3, 32, 32))
    (tmp_path / "a_file").write_text("x")

    def line(argv):
        assert main(argv) == 2
        errors = [e for e in capsys.readouterr().err.splitlines() if e.strip()]
        assert len(errors) == 1, errors
        return errors[0]
    assert "a_file is a file, so no folder can be made inside it" in line([str(ckpt), str(tmp_path / "a_file" / "sub")])
    weights.write_bytes(b"no longer a torch file")
    assert f"the frozen backbone's weights file {weights} no longer holds the backbone's weights" in \
        line([str(ckpt), str(tmp_path / "out")])
    torch.save({"state_dict": cifar_resnet(32).state_dict()}, weights)          # another shape
    assert "no longer holds the backbone's weights (Error(s) in loading state_dict" in \
        line([str(ckpt), str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_an_untrained_or_diverged_backbone_is_never_measured_or_cached():
    from eexit.models.backbones import cifar_resnet
    from eexit.pipeline.backbone import check_trained
    net = cifar_resnet(20)
    check_trained(net, 2, 10)                                                    # trained: fine
    with pytest.raises(EExitError, match=r"pretrain.epochs=2 took no optimizer step"):
        check_trained(net, 2, 0)
    next(b for n, b in net.named_buffers() if n.endswith("running_var")).fill_(float("inf"))
    with pytest.raises(EExitError, match=r"running_var hold NaN or inf \(the training diverged"):
        check_trained(net, 2, 10)


def test_temporaries_of_dead_writers_are_removed_by_age_only(tmp_path):
    entry = tmp_path / "backbones" / "r20.pt"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"complete")
    old, fresh = entry.with_name(".r20.pt.4242.tmp"), temporary(entry)
    stage = tmp_path / "features" / "k" / "train" / ".block3.npy.77.tmp"
    for path in (old, fresh, stage):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(stage, (hour_ago, hour_ago))
    assert is_temporary(old) and is_temporary(fresh) and not is_temporary(entry)
    assert sorted(remove_stale([tmp_path])) == sorted([old, stage])
    assert fresh.exists() and entry.exists()                                    # a writer still at it: kept


def enospc(*_, **__):
    raise OSError(errno.ENOSPC, "No space left on device")


def half_then_full(path: Path) -> None:
    """What a write that meets a full disk leaves: part of the bytes, then ENOSPC."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"PK\x03\x04" + b"\0" * 100)
    enospc()


def fill_in_backbone_training(monkeypatch):   # Lightning's resume checkpoint, written every epoch
    from lightning.pytorch.plugins.io.torch_plugin import TorchCheckpointIO
    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", lambda self, ck, path, storage_options=None:
                        half_then_full(path))


def fill_in_feature_writing(monkeypatch):
    from eexit.data.feature_store import NpyWriter
    original = NpyWriter.append

    def append(self, t):
        original(self, t[: len(t) // 2])
        enospc()
    monkeypatch.setattr(NpyWriter, "append", append)


def fill_in_checkpoint(monkeypatch):   # the exit network's checkpoint, after training
    import eexit.deploy.checkpoint
    monkeypatch.setattr(eexit.deploy.checkpoint, "atomic_save", lambda obj, path: half_then_full(temporary(Path(path))))


def run_cli(argv: list[str], monkeypatch, capsys) -> tuple[int, list[str]]:
    """``python run.py argv`` in this process (so a test's patches apply): exit status and stderr lines. Hydra's
    logging is off, and every logger is put back as it was after (Hydra's config disables existing loggers)."""
    import logging
    monkeypatch.setattr(sys, "argv", ["run.py", *argv, "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"])
    monkeypatch.setenv(FORCE, "0")
    from hydra.core.global_hydra import GlobalHydra
    GlobalHydra.instance().clear()
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.disabled, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    code = 0
    try:
        runpy.run_path(str(ROOT / "run.py"), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    finally:
        for lg, disabled, level, handlers, propagate in saved:
            lg.disabled, lg.level, lg.handlers, lg.propagate = disabled, level, handlers, propagate
    return code, [e for e in capsys.readouterr().err.splitlines() if e.strip() and not e.startswith("[")]


@pytest.mark.parametrize("fill", [pytest.param(fill_in_backbone_training, marks=pytest.mark.slow),
                                  fill_in_feature_writing, pytest.param(fill_in_checkpoint, marks=pytest.mark.slow)])
def test_a_full_disk_in_each_phase_then_room_again(fill, tmp_path, monkeypatch, capsys):
    run_experiment(compose_cfg(SMALL + [f"cache_dir={tmp_path / 'ref'}"]), tmp_path / "reference")
    argv = SMALL + [f"cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}"]
    with monkeypatch.context() as patch:
        fill(patch)
        code, errors = run_cli(argv, monkeypatch, capsys)
    assert code == 2 and len(errors) == 1 and " is full (" in errors[0], errors
    assert "the rest of the run needs about" in errors[0]
    assert (tmp_path / "run" / "FAILED").read_text().strip() == errors[0].removeprefix("error: ")
    left = [p for p in tmp_path.rglob("*") if p.is_file() and (is_temporary(p) or p.name == "last.ckpt")]
    assert not left and not (tmp_path / "run" / "results.json").exists(), left
    plan = run_experiment(compose_cfg(SMALL + ["plan=true", f"cache_dir={tmp_path / 'ref'}"]), tmp_path / "p")
    import eexit.pipeline.fits
    stored_any = any((tmp_path / "cache" / "backbones").glob("*.pt"))
    monkeypatch.setattr(eexit.pipeline.fits, "free_disk", lambda folder: plan.disk_bytes - (1 if stored_any else 0))
    code, errors = run_cli(argv, monkeypatch, capsys)                 # room for the rest only (or, if nothing was
    assert code == 0, errors                                          # stored yet, for the whole run)
    again, clean = (json.loads((folder / "results.json").read_text()) for folder in (tmp_path / "run", tmp_path / "reference"))
    assert again["regimes"]["nonboosted"]["curve"] == clean["regimes"]["nonboosted"]["curve"]
    assert not (tmp_path / "run" / "FAILED").exists()


def test_a_rerun_is_refused_only_for_what_is_missing(tmp_path, monkeypatch):
    import eexit.pipeline.fits
    cfg = compose_cfg(SMALL + [f"cache_dir={tmp_path / 'cache'}"])
    plan = run_experiment(compose_cfg(SMALL + ["plan=true", f"cache_dir={tmp_path / 'cache'}"]), tmp_path / "p")
    run_experiment(cfg, tmp_path / "first")                           # everything stored
    monkeypatch.setattr(eexit.pipeline.fits, "free_disk", lambda folder: 1000)
    run_experiment(cfg, tmp_path / "again")                           # nothing missing: 1 kB free is enough
    for entry in (tmp_path / "cache" / "features").rglob("block*.npy"):
        entry.unlink()
    with pytest.raises(EExitError, match=r"the run needs [\d.]+ (kB|MB) more on disk under cache_dir=.*, 1.0 kB are free"):
        run_experiment(cfg, tmp_path / "third")
    assert plan.disk_bytes > 1000
