"""The papers' own commands as shipped, on fixtures in the official on-disk layouts at the official
image sizes; only budgets (epochs) and where things are written are overridden."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
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


def test_reproduce_bts_without_the_data_says_where_in_one_line(tmp_path):
    proc = subprocess.run(["make", "-s", "reproduce-bts", f"ARGS=data.root={tmp_path / 'none'} logger=none "
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "WANDB_MODE": "disabled"})
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "CINIC-10 not found" in errors[0] and "data.download=true" in errors[0]
    assert proc.returncode != 0
