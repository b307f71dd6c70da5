"""ZTW's cascade and geometric ensemble against hand-computed values; its real skip against the simulation;
its checkpoint; the ZTW and mixed recipes end to end on digits."""
from __future__ import annotations

import math

import pytest
import torch
from conftest import TINY, compose_cfg, off_scores

from eexit.deploy.checkpoint import load_exit_checkpoint, save_exit_checkpoint
from eexit.errors import EExitError
from eexit.evaluation.curves import simulate
from eexit.exits import CachedExits, ExitPolicy
from eexit.models.backbones import build_backbone
from eexit.models.heads import HeadOutput, LinearHead
from eexit.models.ztw import GeometricEnsemble, ZTWNet
from eexit.training import EarlyExitModule, ExitCrossEntropy


def ztw_net(seed: int = 0) -> ZTWNet:
    torch.manual_seed(seed)
    net = ZTWNet.assemble(build_backbone("resnet20"), [2, 5, 8], LinearHead, 10, (3, 32, 32)).eval()
    for e in net.ensembles:   # trained-looking ensembles: weights and biases far from their start
        e.weight.data.uniform_(-1, 1), e.bias.data.uniform_(-0.5, 0.5)
    return net


def test_ensemble_is_the_weighted_mean_of_log_probabilities_plus_the_bias():
    ens = GeometricEnsemble(2, 2)
    ens.weight.data = torch.tensor([0.0, math.log(3.0)])      # member weights exp(w) = 1 and 3
    ens.bias.data = torch.tensor([0.5, -0.5])
    lp = torch.tensor([[[-0.1, -2.3], [-1.2, -0.4]]])         # [B=1, members=2, K=2]
    # class 0: (1 * -0.1 + 3 * -1.2) / 2 + 0.5 = -1.35;  class 1: (1 * -2.3 + 3 * -0.4) / 2 - 0.5 = -2.25
    torch.testing.assert_close(ens(lp), torch.tensor([[-1.35, -2.25]]))


def test_cascade_adds_a_linear_map_of_the_normalised_previous_output():
    net = ztw_net()
    net.ensembling = False
    cascade = net.cascade[0]
    cascade.linear.weight.data = torch.eye(10) * 2.0
    cascade.linear.bias.data = torch.full((10,), 0.25)
    previous = torch.arange(10.0).unsqueeze(0)                 # mean 4.5, population std sqrt(8.25)
    raw = torch.zeros(1, 10)
    out, carry = net.combine(1, HeadOutput(raw, None), previous[:, None])
    want = 2.0 * (previous - 4.5) / math.sqrt(8.25 + 1e-5) + 0.25
    torch.testing.assert_close(out.logits, want)
    assert carry.shape == (1, 2, 10) and torch.equal(carry[:, 1], out.logits)


def test_the_previous_head_gets_no_gradient_from_the_next_one():
    net = ztw_net()
    net.ensembling = False
    feats, _ = net.features(torch.randn(4, 3, 32, 32))
    outs = net.heads_on(feats)
    outs[1].logits.sum().backward()
    assert all(p.grad is None for p in net.heads[0].parameters())
    assert all(p.grad is not None for p in net.heads[1].parameters())
    assert net.cascade[0].linear.weight.grad is not None


def test_exit_answers_are_the_ensemble_of_the_cascaded_heads():
    net = ztw_net()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        feats, _ = net.features(x)
        z0 = net.heads[0](feats[0]).logits
        z1 = net.heads[1](feats[1]).logits + net.cascade[0](z0)
        lp = torch.stack([z0, z1], 1).log_softmax(-1)
        w, b = net.ensembles[1].weight, net.ensembles[1].bias
        want = (lp[:, 0] * w[0].exp() + lp[:, 1] * w[1].exp()) / 2 + b
        torch.testing.assert_close(net.forward_all(x).logits[1], want)


@pytest.mark.parametrize("batch,buckets", [(1, None), (9, None), (33, None), (21, [8, 16, 32])])
def test_ztw_real_skip_equals_simulation(batch, buckets):
    net = ztw_net()
    x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        module = EarlyExitModule(net, ExitCrossEntropy(), optimizer=None)
        cached = CachedExits.cat([module.predict_step((x, torch.zeros(batch, dtype=torch.long)), 0)])
    scores = cached.scores("max_softmax")
    thr = off_scores(scores.quantile(0.5, dim=1, keepdim=True).expand(3, 10), scores)
    sim_pred, sim_exit = simulate(scores, cached.head_pred, cached.backbone_pred, thr)
    pred, exit_idx = net.infer(x, ExitPolicy("max_softmax", thr), buckets=buckets)
    assert torch.equal(exit_idx, sim_exit) and torch.equal(pred, sim_pred)
    if batch > 9:
        assert len(set(exit_idx.tolist())) >= 3    # samples leave at several exits: the carry is compacted


def test_ztw_checkpoint_round_trip_and_export_refusal(tmp_path):
    net = ztw_net()
    weights = tmp_path / "backbone.pt"
    torch.save({"state_dict": net.backbone.state_dict()}, weights)
    policy = ExitPolicy.global_threshold("max_softmax", 0.5, 3, 10)
    cfg = {"backbone": {"_target_": "eexit.models.backbones.build_backbone", "name": "resnet20"},
           "head": {"_target_": "eexit.models.heads.LinearHead", "_partial_": True}, "data": {}}
    save_exit_checkpoint(tmp_path / "z.pt", net, policy, cfg, str(weights), (3, 32, 32))
    loaded = load_exit_checkpoint(tmp_path / "z.pt")
    assert isinstance(loaded.net, ZTWNet)
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(net.forward_all(x).logits, loaded.net.forward_all(x).logits):
            torch.testing.assert_close(a, b)
    from eexit.deploy.export import export_exit_net
    with pytest.raises(EExitError, match="deploy it from its checkpoint"):
        export_exit_net(net, policy, tmp_path / "exported", (3, 32, 32))


def test_the_cost_model_counts_what_combining_adds():
    from eexit.costs.exits import exit_costs
    from eexit.models.early_exit import build_exit_net
    net = ztw_net()
    torch.manual_seed(0)
    plain = build_exit_net(build_backbone("resnet20"), [2, 5, 8], LinearHead, 10, (3, 32, 32))
    added = [z - p for z, p in zip(exit_costs(net, (3, 32, 32)).head_macs, exit_costs(plain, (3, 32, 32)).head_macs)]
    assert added == [10, 100 + 20, 100 + 30]     # ensemble (k + 1) K, cascade K x K from the second head on


@pytest.mark.slow   # 46 s: two methods end to end (the fast tests check their parts)
def test_ztw_and_mixed_run_alone_and_mixed_leaves_the_cached_backbone(tmp_path):
    from eexit.methods import Mixed
    from eexit.pipeline import run_experiment
    cache = tmp_path / "cache"
    start = {}
    real = Mixed.start

    def spy(self, ctx):
        copy = real(self, ctx)
        start["shared"], start["copy"] = ctx.backbone, copy
        start["before"] = {k: v.clone() for k, v in ctx.backbone.state_dict().items()}
        return copy
    Mixed.start = spy
    try:
        for method in ("ztw", "mixed"):
            cfg = compose_cfg(TINY + [f"method={method}", "method.epochs=2", f"cache_dir={cache}", "logger=none"] +
                              (["method.ensemble_epochs=2"] if method == "ztw" else []))
            results = run_experiment(cfg, tmp_path / method)
            regime = results["regimes"][method]
            assert regime["real_skip_matches"] and results["method"] == method and len(regime["curve"]) > 3
    finally:
        Mixed.start = real
    assert start["copy"] is not start["shared"]
    trained = start["copy"].state_dict()
    assert all(torch.equal(v, start["shared"].state_dict()[k]) for k, v in start["before"].items())   # untouched
    assert any(not torch.equal(trained[k], start["before"][k]) for k in trained)                      # the copy trained
