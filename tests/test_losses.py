"""Cost-aware losses against hand computations (3 exits: two early + final)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from eexit.methods.losses import cost_aware_loss, loss_v0, loss_v4, mixtures, v3_weights, v4_tags

P = [[0.7, 0.3], [0.4, 0.6], [0.2, 0.8]]      # softmax of exits 0, 1 and the final exit
H = [0.6, 0.5]                                 # confidences of the early exits
COSTS = torch.tensor([0.3, 0.6, 1.0])
LAM = 0.5


def inputs(batch=2):
    logits = [torch.tensor(p).log().repeat(batch, 1) for p in P]
    conf = [torch.full((batch,), h) for h in H]
    return logits, conf, torch.zeros(batch, dtype=torch.long)


def test_mixture_recursion():
    ps, cs = mixtures(*inputs()[:2], COSTS)
    # P̂2 = p2; P̂1 = .5 p1 + .5 p2 = [.3,.7]; P̂0 = .6 p0 + .4 P̂1 = [.54,.46]
    assert ps[2][0].tolist() == pytest.approx([0.2, 0.8])
    assert ps[1][0].tolist() == pytest.approx([0.3, 0.7])
    assert ps[0][0].tolist() == pytest.approx([0.54, 0.46])
    # Ĉ2 = 1; Ĉ1 = .5*.6 + .5*1 = .8; Ĉ0 = .6*.3 + .4*.8 = .5
    assert [c[0].item() for c in cs] == pytest.approx([0.5, 0.8, 1.0])


def test_v1_v2_hand_computed():
    logits, conf, y = inputs()
    v1 = -math.log(0.54) + LAM * 0.5
    assert cost_aware_loss("v1", logits, conf, COSTS, y, LAM).item() == pytest.approx(v1, rel=1e-5)
    v2 = v1 + (-math.log(0.3) + LAM * 0.8) + (-math.log(0.2) + LAM * 1.0)
    assert cost_aware_loss("v2", logits, conf, COSTS, y, LAM).item() == pytest.approx(v2, rel=1e-5)
    # PTEENet divides by the number of early exits (2)
    assert cost_aware_loss("v2", logits, conf, COSTS, y, LAM, divide_by_exits=True).item() == pytest.approx(v2 / 2, rel=1e-5)


def test_v0_is_sum_of_cross_entropies():
    logits, conf, y = inputs()
    expected = -math.log(0.7) - math.log(0.4) - math.log(0.2)
    assert loss_v0(logits, conf, COSTS, y).item() == pytest.approx(expected, rel=1e-5)


def test_v3_normalisation_and_value():
    logits, conf, y = inputs()
    conf = [torch.tensor([0.5, 0.7]), torch.tensor([0.4, 0.6])]      # means 0.6 and 0.5
    w = v3_weights(conf)
    reach = ((1 - 0.5) * (1 - 0.4) + (1 - 0.7) * (1 - 0.6)) / 2      # mean Π(1-h_j) = 0.21
    expected_w = torch.tensor([0.6, 0.5, reach]) / (1.1 + reach)
    assert w.tolist() == pytest.approx(expected_w.tolist(), rel=1e-5) and w.sum().item() == pytest.approx(1.0)
    ce = [-math.log(p[0]) for p in P]
    expected = sum(float(expected_w[i]) * (ce[i] + LAM * float(COSTS[i])) for i in range(3))
    assert cost_aware_loss("v3", logits, conf, COSTS, y, LAM).item() == pytest.approx(expected, rel=1e-5)


def test_v4_tag_assignment():
    ce = torch.tensor([[1.0, 0.2], [0.4, 0.3], [0.05, 2.0]])
    # λ=1: sample 0 -> 1.3, 1.0, 1.05 -> exit 1; sample 1 -> 0.5, 0.9, 3.0 -> exit 0
    assert v4_tags(ce, COSTS, 1.0).tolist() == [1, 0]
    assert v4_tags(ce, COSTS, 0.0).tolist() == [2, 0]               # no cost: lowest CE wins


def test_v4_loss_hand_computed():
    # two exits (one early + final), two samples
    logits = [torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([[3.0, 0.0], [3.0, 0.0]])]
    conf = [torch.tensor([0.8, 0.3])]
    y = torch.tensor([0, 1])
    costs = torch.tensor([0.4, 1.0])
    ce = torch.stack([F.cross_entropy(z, y, reduction="none") for z in logits])
    tags = v4_tags(ce, costs, 1.0)
    assert tags.tolist() == [0, 0]   # sample 0: .127+.4 < .049+1; sample 1: .127+.4 < 3.049+1
    picked = ce[0]
    # BCE at exit 0 over samples reaching it (both), target = tag==0 -> all ones: weights 1
    bce = -(math.log(0.8) + math.log(0.3)) / 2
    expected = picked.mean().item() + 1.0 * 0.4 + bce
    assert loss_v4(logits, conf, costs, y, 1.0).item() == pytest.approx(expected, rel=1e-5)


def test_losses_are_finite_at_extremes():
    logits = [torch.tensor([[100.0, -100.0]]), torch.tensor([[-100.0, 100.0]])]
    for version in ("v1", "v2", "v3", "v4"):
        loss = cost_aware_loss(version, logits, [torch.tensor([1.0])], torch.tensor([0.5, 1.0]), torch.tensor([1]), 1.0)
        assert torch.isfinite(loss), version
