"""The papers' own commands as shipped, on fixtures in the official on-disk layouts at the official
image sizes; only budgets (epochs) and where things are written are overridden."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CINIC_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def cinic10_fixture(root: Path, per_class: int = 4) -> Path:
    """CINIC-10's layout: ``train/ valid/ test/<class>/*.png``, 32×32 RGB, a few images per class."""
    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):
        for c, name in enumerate(CINIC_CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                img = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8) + np.uint8(19 * c)
                Image.fromarray(img).save(root / split / name / f"cifar10-{split}-{c}-{i}.png")
    return root


@pytest.mark.slow   # the make target end to end on a CINIC-10 fixture, 75 s
def test_make_reproduce_bts_runs_as_shipped_on_a_cinic10_fixture(tmp_path):
    data = cinic10_fixture(tmp_path / "cinic10")
    run_dir = tmp_path / "run"
    args = (f"data.root={data} pretrain.epochs=1 method.epochs=1 trainer.accelerator=cpu logger=none "
            f"trainer.enable_progress_bar=false cache_dir={tmp_path / 'cache'} hydra.run.dir={run_dir}")
    proc = subprocess.run(["make", "-s", "reproduce-bts", f"ARGS={args}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["dataset"] == "cinic10" and results["backbone"] == "resnet18"
    assert set(results["regimes"]) == {"boosted", "nonboosted"} and results["comparison"]["pair"] == ["boosted",
                                                                                                      "nonboosted"]
    assert results["regimes"]["boosted"]["test_samples"] == 40 and results["regimes"]["boosted"]["val_samples"] == 40
    assert "compute saved within 1 / 2 / 5 points" in proc.stdout or "chance" in proc.stdout


@pytest.mark.slow   # 48 s under -n 2: the make target loads the whole stack before it finds no data
def test_reproduce_bts_without_the_data_says_where_in_one_line(tmp_path):
    proc = subprocess.run(["make", "-s", "reproduce-bts", f"ARGS=data.root={tmp_path / 'none'} logger=none "
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "WANDB_MODE": "disabled"})
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "CINIC-10 not found" in errors[0] and "data.download=true" in errors[0]
    assert proc.returncode != 0


def svhn_fixture(root: Path, n: int = 40) -> None:
    """SVHN's ``train_32x32.mat`` / ``test_32x32.mat``: X is [32, 32, 3, N], label 10 means digit 0."""
    import scipy.io
    rng = np.random.default_rng(1)
    root.mkdir(parents=True)
    for name in ("train_32x32.mat", "test_32x32.mat"):
        y = np.arange(n) % 10 + 1
        X = (rng.integers(0, 40, (32, 32, 3, n)) + (y * 20)[None, None, None, :]).astype(np.uint8)
        scipy.io.savemat(root / name, {"X": X, "y": y.reshape(-1, 1).astype(np.uint8)})


def paper_data(tmp_path: Path) -> Path:
    """``data_dir`` holding CIFAR-10 (python batches, 10 images per batch file) and SVHN fixtures."""
    from tests.test_datasets import cifar_fixture
    cifar_fixture(tmp_path / "data" / "cifar10", per_batch=10)
    svhn_fixture(tmp_path / "data" / "svhn")
    return tmp_path / "data"


BUDGETS = ["pretrain.epochs=1", "method.epochs=1", "logger=none", "trainer.enable_progress_bar=false",
           "trainer.accelerator=cpu"]
FAST = ["eenets_cifar10_resnet20"]
SLOW = ["eenets_cifar10_resnet110", "eenets_svhn_resnet20", "pteenet_cifar10_resnet110", "pteenet_cifar10_vgg19",
        "pteenet_svhn_densenet121"]


@pytest.mark.parametrize("experiment", FAST + [pytest.param(e, marks=pytest.mark.slow) for e in SLOW])
def test_paper_experiment_runs_as_shipped_on_fixtures(experiment, tmp_path, fixture_files_pass_md5):
    """``make reproduce-eenets`` / ``reproduce-pteenet`` run these; in-process, because the fixtures
    cannot carry the official archives' md5 (``fixture_files_pass_md5``)."""
    from eexit.pipeline import run_experiment
    from tests.conftest import compose_cfg
    cfg = compose_cfg([f"experiment={experiment}", f"data_dir={paper_data(tmp_path)}", *BUDGETS], tmp_path)
    results = run_experiment(cfg, tmp_path / "run")
    regime = next(iter(results["regimes"].values()))
    assert regime["real_skip_matches"] is True and regime["cost_table"] and results["guards"]["test_samples"] > 0
    assert (tmp_path / "run" / "results.json").is_file()


@pytest.mark.parametrize("experiment,missing", [
    ("eenets_cifar10_resnet20", "CIFAR-10 not found"), ("pteenet_svhn_densenet121", "SVHN"),
    ("pteenet_imagenet_resnet50", "ImageNet"), ("bts_tinyimagenet_resnet18", "Tiny-ImageNet"),
    ("bts_cifar100_timm", "CIFAR-100")])
def test_every_paper_experiment_without_its_data_names_it_in_one_line(experiment, missing, tmp_path):
    from eexit.errors import EExitError
    from eexit.pipeline import run_experiment
    from tests.conftest import compose_cfg
    cfg = compose_cfg([f"experiment={experiment}", f"data_dir={tmp_path / 'none'}", *BUDGETS], tmp_path)
    with pytest.raises(EExitError) as err:
        run_experiment(cfg, tmp_path / "run")
    assert missing in str(err.value) and "\n" not in str(err.value) and "data.root" in str(err.value)


@pytest.mark.slow
def test_make_bts64_runs_as_shipped_on_a_cinic10_fixture(tmp_path):
    """The 64-configuration sweep's command, its grid cut to two jobs (a budget), on CINIC-10's layout."""
    data = cinic10_fixture(tmp_path / "cinic10")
    sweep = tmp_path / "sweep"
    args = (f"data.root={data} pretrain.epochs=1 method.epochs=1 trainer.accelerator=cpu logger=none "
            f"placement.rule=pareto,fine calibrator.margin=0.02 head.width=16 cache_dir={tmp_path / 'cache'} "
            f"hydra.sweep.dir={sweep}")
    proc = subprocess.run(["make", "-s", "bts64", f"ARGS={args}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["stats"]["configurations"] == 2 and summary["stats"]["jobs"] == 2
