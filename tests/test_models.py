"""Staged backbones, heads, placement rules and the cost model."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from eexit.costs.exits import exit_costs
from eexit.errors import EExitError
from eexit.costs.flops import block_macs, count_macs, cumulative
from eexit.models.backbones import BACKBONES, build_backbone
from eexit.models.backbones.staged import Classifier, StagedBackbone
from eexit.models.early_exit import EarlyExitNet
from eexit.models.heads import HEADS, build_head
from eexit.costs.placement import place_by_rule, rule_fractions


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_resumes_from_any_block(name):
    torch.manual_seed(0)
    net = build_backbone(name).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        full = net(x)
        k = net.num_blocks // 2
        resumed = net(net(x, 0, k), k)
    assert full.shape == (2, 10)
    assert torch.allclose(full, resumed, atol=1e-5)
    assert net.attach_points == list(range(net.num_blocks - 1))


def test_resnet_shapes_and_sizes():
    r18 = build_backbone("resnet18")
    assert r18.block_names[:3] == ["stem", "layer1.0", "layer1.1"] and r18.num_blocks == 10
    assert sum(p.numel() for p in r18.parameters()) == 11_173_962  # CIFAR ResNet18
    assert r18.feature_shapes((3, 32, 32))[0] == (64, 32, 32)  # 3x3 stem, no max-pool
    assert build_backbone("resnet110").num_blocks == 1 + 54 + 1
    with pytest.raises(EExitError, match="unknown backbone"):
        build_backbone("resnet19")


def test_fvcore_matches_torch_flop_counter():
    """fvcore counts MACs; FlopCounterMode counts 2 FLOPs per MAC (conv/linear-only model)."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, stride=2),
                          nn.Flatten(), nn.Linear(4 * 15 * 15, 10))
    x = torch.zeros(1, 3, 32, 32)
    with FlopCounterMode(display=False) as counter:
        model(x)
    macs = count_macs(model, x)
    assert macs == 3 * 8 * 9 * 32 * 32 + 8 * 4 * 9 * 15 * 15 + 900 * 10
    assert counter.get_total_flops() == 2 * macs


def tiny_backbone():
    blocks = [nn.Conv2d(3, 4, 3, padding=1, bias=False),            # 3*4*9*1024 = 110592
              nn.Conv2d(4, 4, 3, padding=1, stride=2, bias=False),  # 4*4*9*256 = 36864
              Classifier(4, 10)]                                     # pool 4*256=1024 + fc 40
    return StagedBackbone(blocks, ["a", "b", "classifier"], "tiny", 10)


def test_exit_cost_hand_computed():
    net = EarlyExitNet(tiny_backbone(), [0, 1], [build_head("linear", (4, 32, 32), 10),
                                                 build_head("linear", (4, 16, 16), 10)])
    costs = exit_costs(net, (3, 32, 32))
    assert costs.block_macs == [110592, 36864, 1064]
    # linear head: the spatial mean is element-wise (0 in fvcore); the linear layer is 4*10
    assert costs.head_macs == [40, 40]
    assert costs.exit_macs == [110592 + 40, 110592 + 36864 + 80, 110592 + 36864 + 1064 + 80]
    assert costs.backbone_macs == 148520
    assert costs.expected([0.5, 0.25, 0.25]) == pytest.approx(
        (0.5 * 110632 + 0.25 * 147536 + 0.25 * 148600) / 148520)


@pytest.mark.parametrize("kind,opts", [("conv1d", {}), ("convx", {"depth": 2}), ("eenet", {"block": "plain"}),
                                       ("eenet", {"block": "bnpool"}), ("linear", {})])
def test_heads_output_logits_and_confidence(kind, opts):
    head = build_head(kind, (16, 8, 8), 7, **opts).eval()
    out = head(torch.randn(3, 16, 8, 8))
    assert out.logits.shape == (3, 7)
    if kind in ("convx", "eenet"):
        assert out.confidence.shape == (3,) and ((out.confidence >= 0) & (out.confidence <= 1)).all()
    else:
        assert out.confidence is None
    assert set(HEADS) == {"conv1d", "convx", "eenet", "linear"}


def test_conv1d_head_is_light_on_resnet18():
    r18 = build_backbone("resnet18")
    total = sum(block_macs(r18, (3, 32, 32)))
    shapes = r18.feature_shapes((3, 32, 32))
    for block in (2, 4, 6, 8):
        head_macs = count_macs(build_head("conv1d", shapes[block], 10), torch.zeros(1, *shapes[block]))
        assert head_macs / total < 0.005


@pytest.mark.parametrize("rule", ["pareto", "fine", "linear", "gold_ratio"])
def test_placement_rules_on_resnet110(rule):
    cum = cumulative(block_macs(build_backbone("resnet110"), (3, 32, 32)))
    total = cum[-1]
    n = 10 if rule == "fine" else 4
    blocks = place_by_rule(rule, n, cum)
    targets = rule_fractions(rule, n)
    assert blocks == sorted(set(blocks)) and len(blocks) == n
    for b, t in zip(blocks, targets):
        assert cum[b] >= t * total                      # reaches the target ...
        assert b == 0 or cum[b - 1] < t * total or b - 1 in blocks  # ... at the first block that does
    if rule == "fine":  # PTEENet's 10 conv2 exits on ResNet-110: first at >= 5 %, last near 40 %
        assert 0.05 <= cum[blocks[0]] / total < 0.07 and 0.40 <= cum[blocks[-1]] / total < 0.42


def test_placement_that_cannot_fit_says_so():
    cum = cumulative(block_macs(build_backbone("vgg11_bn"), (3, 32, 32)))
    with pytest.raises(EExitError, match="cannot fit"):
        place_by_rule("fine", 30, cum)


def test_cost_model_leaves_every_module_in_its_own_mode():
    """Counting a head's MACs once put that head into train mode (its wrapper was), so a later
    forward moved its BatchNorm statistics."""
    torch.manual_seed(0)
    bb = build_backbone("resnet20")
    net = EarlyExitNet(bb, [2, 5], [build_head("conv1d", s, 10) for s in (bb.feature_shapes((3, 32, 32))[2], bb.feature_shapes((3, 32, 32))[5])])
    net.heads[0].eval()
    net.backbone.blocks[1].eval()
    modes = {n: m.training for n, m in net.named_modules()}
    exit_costs(net, (3, 32, 32))
    bb.feature_shapes((3, 32, 32))
    assert {n: m.training for n, m in net.named_modules()} == modes


def test_mac_counts_are_traced_once_per_structure(monkeypatch):
    """Counts are kept per (structure, input shape): a second network of the same structure is
    not traced again, one of another structure is, and the numbers are those of a fresh trace."""
    import eexit.costs.flops as flops
    first = block_macs(build_backbone("resnet20"), (3, 32, 32))
    traced = []
    real = flops.FlopCountAnalysis
    monkeypatch.setattr(flops, "FlopCountAnalysis", lambda *a: traced.append(a) or real(*a))
    assert block_macs(build_backbone("resnet20"), (3, 32, 32)) == first and not traced
    assert block_macs(build_backbone("resnet20"), (3, 16, 16)) != first and len(traced) == 1
    head = build_head("conv1d", (16, 32, 32), 10)
    once = count_macs(head, torch.zeros(1, 16, 32, 32))
    assert count_macs(build_head("conv1d", (16, 32, 32), 10), torch.zeros(1, 16, 32, 32)) == once and len(traced) == 2
    assert count_macs(build_head("conv1d", (16, 32, 32), 10, width=64), torch.zeros(1, 16, 32, 32)) > once
    flops._COUNTED.clear()
    assert block_macs(build_backbone("resnet20"), (3, 32, 32)) == first
