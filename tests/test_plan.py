"""The plan printed before any work: bytes from the shapes by hand, plan=true stops, a sweep's plan."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eexit.errors import EExitError
from eexit.pipeline import run_experiment
from tests.conftest import compose_cfg

ROOT = Path(__file__).resolve().parents[1]


def test_plan_true_writes_the_plan_and_stops(tmp_path):
    cfg = compose_cfg(["plan=true", f"cache_dir={tmp_path / 'cache'}"])
    out = run_experiment(cfg, tmp_path / "run")
    plan = json.loads((tmp_path / "run" / "plan.json").read_text())
    assert out.to_dict() == plan and not (tmp_path / "run" / "results.json").exists()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]   # nothing trained or extracted
    assert plan["images"] == {"train": 3231, "val": 1080, "test": 1080}   # distorted digits: 3 per source
    # ResNet20 blocks 3/5/7 give 16x32x32, 32x16x16, 64x8x8 maps; conv1d heads pool to 8x8; bf16 = 2 bytes
    assert [(b["name"], b["bytes_per_image"]) for b in plan["blocks"]] == [
        ("block3-8x8", 16 * 64 * 2), ("block5-8x8", 32 * 64 * 2), ("block7-8x8", 64 * 64 * 2)]
    # training rows in bfloat16, validation and test rows in float32 (as deployed); + final logits, label
    train_row, eval_row = (16 + 32 + 64) * 64 * 2 + 10 * 4 + 8, (16 + 32 + 64) * 64 * 4 + 10 * 4 + 8
    assert plan["store_bytes"] == train_row * 3231 + eval_row * 2160
    assert {"disk_bytes", "host_bytes", "gpu_bytes", "seconds"} <= set(plan) and plan["seconds"] > 0


def test_the_plan_counts_cross_fit_copies(tmp_path, monkeypatch):
    import eexit.pipeline.plan as plan
    monkeypatch.setattr(plan, "head_step_seconds", lambda *a: 0.01)
    """Non-boosted heads are one unit of head training; boosted in_sample one more; cross_fit's 3 folds train 3
    copies of each head on 2/3 of its pool: 2 more."""
    seconds = {}
    for rule in ("in_sample", "cross_fit"):
        cfg = compose_cfg(["data=digits", "plan=true", f"method.boosted.survivors={rule}", f"cache_dir={tmp_path}"])
        run_experiment(cfg, tmp_path / rule)
        seconds[rule] = json.loads((tmp_path / rule / "plan.json").read_text())["seconds_by_phase"]["heads"]
    assert seconds["cross_fit"] == pytest.approx(2 * seconds["in_sample"])


def test_a_run_that_would_not_fit_its_disk_stops_in_one_line(tmp_path, monkeypatch):
    import eexit.pipeline.fits as fits
    monkeypatch.setattr(fits, "free_disk", lambda folder: 1000)
    cfg = compose_cfg([f"cache_dir={tmp_path / 'cache'}"])
    with pytest.raises(EExitError, match=r"the run needs [\d.]+ MB more on disk under cache_dir=.*, 1.0 kB are free") as e:
        run_experiment(cfg, tmp_path / "run")
    assert "\n" not in str(e.value) and "cache_dir" in str(e.value)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


@pytest.mark.slow   # 15 s: 64 job plans
def test_the_bts64_sweep_plan_on_cinic10_fits_the_gpu_machine(tmp_path):
    """All four placement rules of sweep=bts64 (the margin and width do not change what is stored) on
    CINIC-10's 270k images, training rows in bfloat16 and validation/test rows in float32: <= 52 GB on disk
    (the GPU machine's 64 GiB less the data, the venv and room to spare), <= 26 GB for any one job's blocks."""
    sweep = tmp_path / "plan"
    proc = subprocess.run([sys.executable, "run.py", "-m", "sweep=bts64", "plan=true", "calibrator.margin=0.01",
                           "head.width=16", "logger=none", "trainer.accelerator=cpu", f"data.root={tmp_path / 'none'}",
                           f"cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={sweep}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    plan = json.loads((sweep / "plan.json").read_text())
    assert plan["jobs"] == 4 and plan["images"] == {"train": 90_000, "val": 90_000, "test": 90_000}
    assert "official" in plan["counts_from"]
    assert plan["disk_bytes"] <= 52e9 and plan["max_job_store_bytes"] <= 26e9, (plan["disk_bytes"],
                                                                                  plan["max_job_store_bytes"])
    assert len(plan["block_files"]) == 6 and "sweep plan: 4 jobs" in proc.stdout


def test_feature_source_decides_by_the_measured_figures():
    from eexit.methods.feature_source import feature_source
    from types import SimpleNamespace
    figures = {"store_bytes": 30e9, "dtype": "bfloat16", "images": {"train": 90_000, "val": 90_000, "test": 90_000},
               "rates": {"backbone_images_per_s": 50_000.0}, "blocks": [{"bytes_per_image": 30e9 / 270_000}]}
    plan = SimpleNamespace(**figures)
    assert feature_source(plan, True, None, 10**12)[0] is False                       # streamed: on the fly
    assert feature_source(plan, False, None, 10**12)[0] is True                       # CPU: the store
    keep, why = feature_source(plan, False, 100e9, 10**12)                           # fits a GPU: kept there
    assert keep and "kept in GPU memory" in why
    keep, why = feature_source(plan, False, 40e9, 100e9)                             # page cache holds it: store
    assert keep and "page cache" in why
    # disk-bound: 10 GB of train features at 1 GB/s = 10 s against 90,000 / 50,000 = 1.8 s of backbone
    keep, why = feature_source(plan, False, 40e9, 10e9)
    assert not keep and "2 s on the GPU" in why and "10 s" in why
    slow = SimpleNamespace(**{**figures, "rates": {"backbone_images_per_s": 5_000.0}})   # 18 s of backbone: read
    assert feature_source(slow, False, 40e9, 10e9)[0] is True


def test_missing_data_is_named_before_the_disk_it_would_need(tmp_path, monkeypatch):
    """CINIC-10's plan counts its official sizes when the folders are absent (what a download would cost), so
    on a small disk the disk check could speak first; the missing data must: that is the user's real problem."""
    import eexit.pipeline.fits as fits
    monkeypatch.setattr(fits, "free_disk", lambda folder: 1000)
    base = ["data=cinic10", f"data.root={tmp_path / 'none'}", f"cache_dir={tmp_path / 'cache'}", "logger=none"]
    with pytest.raises(EExitError, match="CINIC-10 not found.*data.download=true"):
        run_experiment(compose_cfg(base), tmp_path / "run")
    with pytest.raises(EExitError, match=r"GB more on disk"):      # asked to download: the disk is the problem
        run_experiment(compose_cfg(base + ["data.download=true"]), tmp_path / "run2")
    assert not (tmp_path / "none").exists()                         # refused before any download


@pytest.mark.slow   # 45 s: a run between two plans (the fast suite keeps within its 10 minutes)
def test_a_cached_backbone_and_store_cost_no_planned_time(tmp_path):
    """A sweep's jobs after the first find the backbone and the features in the cache: their plan says so."""
    from tests.conftest import TINY
    over = TINY + ["method=nonboosted", "pretrain.epochs=1", "++method.epochs=1", "time_samples=null",
                   "real_skip_samples=8", "plot=false", f"cache_dir={tmp_path / 'cache'}"]
    first = run_experiment(compose_cfg(over + ["plan=true"]), tmp_path / "p0").to_dict()["seconds_by_phase"]
    assert first["backbone"] > 0 and first["features"] > 0
    run_experiment(compose_cfg(over), tmp_path / "run")
    again = run_experiment(compose_cfg(over + ["plan=true"]), tmp_path / "p1").to_dict()
    assert again["seconds_by_phase"]["backbone"] == 0 and again["seconds_by_phase"]["features"] == 0
    assert again["seconds_by_phase"]["heads"] > 0 and again["seconds"] == pytest.approx(sum(again["seconds_by_phase"].values()))
