"""PTEENet and EENets end to end on digits (CPU), with tiny budgets."""
from __future__ import annotations

import pytest
import torch

from eexit.errors import EExitError
from eexit.methods import FrozenHeads
from eexit.pipeline import run_experiment
from tests.conftest import TINY, compose_cfg


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cost_aware")


def run(tmp_path, cache, overrides, name):
    cfg = compose_cfg(TINY + overrides + [f"cache_dir={cache}"])
    return run_experiment(cfg, tmp_path / name)


@pytest.mark.slow   # 14 s: a whole PTEENet run
def test_pteenet_leaves_backbone_untouched(tmp_path, cache, monkeypatch):
    snapshots = {}
    real = FrozenHeads.heads

    def wrapped(self, ctx, *args, **kwargs):
        snapshots["before"] = {k: v.clone() for k, v in ctx.backbone.state_dict().items()}
        out = real(self, ctx, *args, **kwargs)
        snapshots["after"] = ctx.backbone.state_dict()
        return out

    monkeypatch.setattr(FrozenHeads, "heads", wrapped)
    results = run(tmp_path, cache, ["method=pteenet", "method.epochs=3", "method.feature_cache=false"], "p")
    before, after = snapshots["before"], snapshots["after"]
    assert any("running_mean" in k for k in before)          # BN statistics are part of the check
    assert all(torch.equal(before[k], after[k]) for k in before)
    regime = results["regimes"]["pteenet"]
    assert regime["real_skip_matches"] and len(results["curve"]) >= 10
    assert results["operating_point"]["setting"] == 0.5


@pytest.mark.slow   # 16 s: two PTEENet trainings
def test_larger_lambda_exits_earlier(tmp_path, cache):
    cost = {}
    for lam in (0.0, 3.0):
        r = run(tmp_path, cache, ["method=pteenet", "method.epochs=6", f"method.loss.lam={lam}"], f"l{lam}")
        cost[lam] = r["operating_point"]["cost_fraction"]
    assert cost[3.0] < cost[0.0] - 0.05


@pytest.mark.parametrize("loss", ["v2", pytest.param("v4", marks=pytest.mark.slow)])  # v4 (slow, 21 s): per-sample
# exit tags, batches carry sample indices
def test_eenets_joint_end_to_end(tmp_path, cache, loss):
    results = run(tmp_path, cache, ["method=eenets", "method.epochs=2", f"method.loss.version={loss}"], "e")
    regime = results["regimes"]["eenets"]
    assert regime["method"]["loss"]["version"] == loss
    assert regime["real_skip_matches"] and 0.0 <= regime["final_exit_test_acc"] <= 1.0
    state = torch.load(regime["checkpoint"], weights_only=False)["network"]  # the whole network, backbone included
    assert any(k.startswith("backbone.") for k in state) and any(k.startswith("heads.") for k in state)
    if loss == "v2":
        from eexit.deploy.checkpoint import load_exit_checkpoint
        loaded = load_exit_checkpoint(regime["checkpoint"])
        for k, v in loaded.net.state_dict().items():
            assert torch.equal(v, state[k]), k
    assert results["exits"][-1]["cost_fraction"] > 1.0 > results["exits"][0]["cost_fraction"]


def test_cost_aware_loss_needs_confidence_heads(tmp_path, cache):
    with pytest.raises(EExitError, match="head=convx or head=eenet"):
        run(tmp_path, cache, ["method=pteenet", "head=linear", "calibrator=confidence"], "bad")
