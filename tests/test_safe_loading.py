"""No file eexit reads can run code: a crafted pickle at every entry point is refused in one line, no code runs;
and the shared cache's trust model (what a planted file can and cannot do)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, compose_cfg

from eexit.errors import EExitError
from eexit.files.torch_files import FORCE, RefusedFile, load_tensors
from eexit.pipeline import run_experiment

ROOT = Path(__file__).resolve().parents[1]


class RunsCode:
    """What a crafted checkpoint holds: an object whose unpickling calls ``os.system``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def crafted(tmp_path):
    """``(write(path), marker)``: ``write`` puts a crafted pickle at ``path``; the marker appears if it ever runs."""
    marker = tmp_path / "CODE-RAN"

    def write(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": RunsCode(marker), "epoch": 1}, path)
        return path
    yield write, marker
    assert not marker.exists(), "a crafted file ran code"


def refused_in_one_line(cfg, run_dir) -> str:
    with pytest.raises(EExitError) as err:
        run_experiment(cfg, run_dir)
    message = str(err.value)
    assert "names the Python callable posix.system" in message and "\n" not in message, message
    assert not (run_dir / "results.json").exists()
    return message


def test_load_tensors_refuses_a_callable_and_names_damage_apart(crafted, tmp_path):
    write, marker = crafted
    with pytest.raises(RefusedFile, match=r"evil.pt was not loaded: it names the Python callable posix.system"):
        load_tensors(write(tmp_path / "evil.pt"))
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(EExitError, match=r"cut.pt cannot be read as a torch file \(RuntimeError"):
        load_tensors(tmp_path / "cut.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "ok.pt")
    assert torch.equal(load_tensors(tmp_path / "ok.pt")["w"], torch.ones(2))


def test_a_crafted_export_input_is_one_line_exit_2(crafted, tmp_path, capsys, monkeypatch):
    from eexit.deploy.export import main
    write, _ = crafted
    monkeypatch.setenv(FORCE, "0")   # the command sets it for its process; restored after the test
    assert main([str(write(tmp_path / "ckpt.pt")), str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1 and "names the Python callable posix.system" in errors[0], errors
    assert not (tmp_path / "out").exists()


def test_crafted_backbone_weights_from_the_command_line_are_one_line_exit_2(crafted, tmp_path):
    write, _ = crafted
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "run.py", "method=backbone", "data=digits", "pretrain.epochs=1", "logger=none",
                           f"backbone.weights={write(tmp_path / 'weights.pt')}", f"hydra.run.dir={run_dir}",
                           f"cache_dir={tmp_path / 'cache'}"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-3000:]
    assert "weights.pt was not loaded: it names the Python callable posix.system" in errors[0]
    assert not (run_dir / "results.json").exists() and not (tmp_path / "cache" / "backbones").exists()


def test_a_crafted_cache_entry_or_resume_checkpoint_is_refused(crafted, tmp_path):
    """A planted entry is refused, not rebuilt over: rebuilding would hide the attack from every other reader."""
    write, _ = crafted
    cfg = compose_cfg(TINY + ["method=backbone", "pretrain.epochs=1", f"cache_dir={tmp_path / 'cache'}"])
    run_experiment(cfg, tmp_path / "first")
    (entry,) = (tmp_path / "cache" / "backbones").glob("*.pt")
    write(entry)
    assert str(entry) in refused_in_one_line(cfg, tmp_path / "planted")
    entry.unlink()
    resume = write(entry.with_suffix(".training") / "last.ckpt")   # what an interrupted training leaves
    assert str(resume) in refused_in_one_line(cfg, tmp_path / "resumed")


def test_a_crafted_decoded_image_copy_is_refused(crafted, tmp_path):
    from test_image_files import class_tree
    write, _ = crafted
    class_tree(tmp_path / "imgs", size=(16, 16))
    cfg = compose_cfg(["data=imagefolder", f"data.root={tmp_path / 'imgs'}", "data.val_size=2", "plan=true",
                       f"cache_dir={tmp_path / 'cache'}"])
    run_experiment(cfg, tmp_path / "plan")                                  # decodes, keeps the copy beside
    (copy,) = (tmp_path / "imgs").glob(".decoded-imagefolder-train-*.pt")
    write(copy)
    assert str(copy) in refused_in_one_line(cfg, tmp_path / "planted")


def test_a_crafted_file_in_torchvisions_weights_cache_is_refused(crafted, tmp_path, monkeypatch):
    """torchvision reads its hub cache with an unrestricted torch.load; eexit loads library weights weights-only."""
    import torchvision
    write, _ = crafted
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    write(tmp_path / "torch" / "hub" / "checkpoints" / torchvision.models.ResNet18_Weights.DEFAULT.url.rsplit("/", 1)[1])
    cfg = compose_cfg(["data=synthetic", "data.train_size=64", "data.val_size=32", "data.test_size=32",
                       "backbone=torchvision", "backbone.model=resnet18", "backbone.pretrained=true",
                       "pretrain.epochs=1", "method=backbone", f"cache_dir={tmp_path / 'cache'}"])
    refused_in_one_line(cfg, tmp_path / "run")


def test_what_a_planted_file_in_a_shared_cache_can_and_cannot_do(crafted, tmp_path, caplog):
    """The trust model of docs/troubleshooting.md: a stored feature file holding pickled objects is never
    unpickled (discarded and rebuilt, the results unchanged); a well-formed entry forged with its own checksum
    is used as it is: checksums catch damage, not a writer who means harm. Such a writer can change numbers,
    never run code."""
    write, marker = crafted
    small = ["data=synthetic", "data.train_size=256", "data.val_size=64", "data.test_size=64", "backbone=resnet20",
             "pretrain.epochs=1", "method=nonboosted", "method.epochs=1", f"cache_dir={tmp_path / 'cache'}"]
    clean = run_experiment(compose_cfg(small), tmp_path / "clean")
    (labels,) = (tmp_path / "cache" / "features").glob("*/test/labels.npy")
    np.save(labels, np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    again = run_experiment(compose_cfg(small), tmp_path / "again")
    assert any("discarding unreadable" in r.message and "labels.npy" in r.message for r in caplog.records)
    assert again["regimes"]["nonboosted"]["curve"] == clean["regimes"]["nonboosted"]["curve"]
    from eexit.files.digest import tensors_digest
    (entry,) = (tmp_path / "cache" / "backbones").glob("*.pt")
    forged = load_tensors(entry)
    forged["metrics"]["test_acc"] = 0.123
    forged["weights_digest"] = tensors_digest(forged["state_dict"])
    torch.save(forged, entry)
    assert run_experiment(compose_cfg(small), tmp_path / "forged")["backbone_test_acc"] == 0.123
