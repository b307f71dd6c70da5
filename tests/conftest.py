"""Shared fixtures: configs composed as run.py would, with tiny budgets and no W&B network."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

CONF = str(Path(__file__).resolve().parents[1] / "eexit" / "conf")

if os.environ.get("PYTEST_XDIST_WORKER"):   # `make test` runs one worker per core (-n auto): one thread each
    os.environ["OMP_NUM_THREADS"] = "1"      # (the commands tests start inherit it)
    import torch
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_wandb_network(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")


def compose_cfg(overrides: list[str] | None = None, tmp_path: Path | None = None):
    """The composed config for ``overrides`` (no Hydra run dir needed)."""
    GlobalHydra.instance().clear()
    # every end-to-end test measures its operating points' time saving too, on 4 images (16 by default: seconds a run)
    base = ["logger=none", "trainer.enable_progress_bar=false", "trainer.accelerator=cpu", "time_samples=4"]
    if tmp_path is not None:
        base.append(f"cache_dir={tmp_path / 'cache'}")
    with initialize_config_dir(version_base="1.3", config_dir=CONF):
        return compose("config", overrides=base + list(overrides or []))


TINY = ["data=digits", "pretrain.epochs=2", "data.batch_size=64", "++method.epochs=2"]


@pytest.fixture
def fixture_files_pass_md5(monkeypatch):
    """Tiny fixtures cannot have the official files' md5: torchvision's readers (and our file check)
    accept any present file here. The damaged-file tests pin the fixtures' own md5 instead."""
    import os

    import torchvision.datasets.cifar
    import torchvision.datasets.svhn

    import eexit.data.torchvision_sets

    def present(fpath, md5=None):
        return os.path.isfile(fpath)
    for module in (torchvision.datasets.cifar, torchvision.datasets.svhn, eexit.data.torchvision_sets):
        monkeypatch.setattr(module, "check_integrity", present)


def reading(backbone, attach, reduction=None):
    """What ``FeatureDataModule`` needs of a network: a backbone, attach points and heads; these heads keep
    the full maps (``reduction=None``) or average-pool them to ``reduction`` first."""
    from types import SimpleNamespace
    return SimpleNamespace(backbone=backbone, attach=list(attach),
                           heads=[SimpleNamespace(input_reduction=reduction) for _ in attach])


TIE_TOLERANCE = 1e-5   # two float32 paths (batched, batch-1, exported) may put a score this far apart


def off_scores(thresholds, scores):
    """``thresholds [E, K]`` with each finite value moved to the middle of the nearest gap between head E's sorted
    scores that is wider than ``4 * TIE_TOLERANCE``: a sample's score computed in another floating-point order
    (batch 1 against the batched simulation, an exported program) then lies on the same side of every threshold
    on any CPU. Fails loudly when a head's scores leave no such gap."""
    import torch
    out = thresholds.clone().float()
    for e in range(out.shape[0]):
        s = scores[e].float().unique().sort().values
        edges = torch.cat([s[:1] - 1.0, s, s[-1:] + 1.0])
        wide = (edges[1:] - edges[:-1]) > 4 * TIE_TOLERANCE
        middles = ((edges[1:] + edges[:-1]) / 2)[wide]
        assert middles.numel() > 0
        for k in range(out.shape[1]):
            if torch.isfinite(out[e, k]):
                out[e, k] = middles[(middles - out[e, k]).abs().argmin()]
    return out
