"""Cost-aware losses against hand computations (3 exits: two early + final)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from eexit.training.cost_aware import cost_aware_loss, loss_v0, loss_v4, mixtures, v3_weights, v4_tags

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


def v4_case():
    """Two exits (one early + final), two samples: ``(logits, conf, y, costs, per-sample CE [2, 2])``."""
    logits = [torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([[3.0, 0.0], [3.0, 0.0]])]
    conf = [torch.tensor([0.8, 0.3])]
    y = torch.tensor([0, 1])
    costs = torch.tensor([0.4, 1.0])
    return logits, conf, y, costs, torch.stack([F.cross_entropy(z, y, reduction="none") for z in logits])


def test_v4_loss_hand_computed():
    logits, conf, y, costs, ce = v4_case()
    tags = v4_tags(ce, costs, 1.0)
    assert tags.tolist() == [0, 0]   # sample 0: .127+.4 < .049+1; sample 1: .127+.4 < 3.049+1
    picked = ce[0]
    # BCE at exit 0 over samples reaching it (both), target = tag==0 -> all ones: weights 1
    bce = -(math.log(0.8) + math.log(0.3)) / 2
    expected = picked.mean().item() + 1.0 * 0.4 + bce
    assert loss_v4(logits, conf, costs, y, 1.0, weighting="balanced").item() == pytest.approx(expected, rel=1e-5)
    # EENets' reference weighting: every sample tagged 0 (r = 1), so positives weigh 1 - r = 0: no BCE
    assert loss_v4(logits, conf, costs, y, 1.0).item() == pytest.approx(picked.mean().item() + 0.4, rel=1e-5)


def test_losses_are_finite_at_extremes():
    logits = [torch.tensor([[100.0, -100.0]]), torch.tensor([[-100.0, 100.0]])]
    for version in ("v1", "v2", "v3", "v4"):
        loss = cost_aware_loss(version, logits, [torch.tensor([1.0])], torch.tensor([0.5, 1.0]), torch.tensor([1]), 1.0)
        assert torch.isfinite(loss), version


def test_v4_trains_on_given_tags_with_class_balanced_bce():
    # same outputs as above, but the two samples tagged to exit 0 and 1 respectively by the epoch's table
    logits, conf, y, costs, ce = v4_case()
    tags = torch.tensor([0, 1])
    # prediction and cost from the tagged exit; BCE at exit 0: one positive (h=.8), one negative (h=.3),
    # positive rate 1/2 -> weights 0.5/0.5 = 1 each
    bce = -(math.log(0.8) + math.log(1 - 0.3)) / 2
    expected = (ce[0, 0] + ce[1, 1]).item() / 2 + (0.4 + 1.0) / 2 + bce
    assert loss_v4(logits, conf, costs, y, 1.0, tags=tags, weighting="balanced").item() == pytest.approx(expected, rel=1e-5)
    # 3 reach exit 0, one positive: weights 0.5/(1/3) = 1.5 for it, 0.5/(2/3) = 0.75 for the others
    conf3, y3 = [torch.tensor([0.9, 0.2, 0.4])], torch.tensor([0, 1, 0])
    logits3 = [torch.zeros(3, 2), torch.zeros(3, 2)]
    bce3 = -(1.5 * math.log(0.9) + 0.75 * math.log(0.8) + 0.75 * math.log(0.6)) / 3
    expected3 = math.log(2) + (0.4 + 1.0 + 1.0) / 3 + bce3
    got = loss_v4(logits3, conf3, costs, y3, 1.0, tags=torch.tensor([0, 1, 1]), weighting="balanced").item()
    assert got == pytest.approx(expected3, rel=1e-5)


def test_v4_reference_weighting_hand_computed():
    """EENets' code: BCE over the whole batch, positives weighted 1 - r, negatives r (r = tag rate)."""
    logits, conf, y, costs, ce = v4_case()
    conf3, tags = [torch.tensor([0.9, 0.2, 0.4])], torch.tensor([0, 1, 1])     # r = 1/3 at exit 0
    logits3 = [torch.zeros(3, 2), torch.zeros(3, 2)]
    bce = (2 / 3 * -math.log(0.9) + 1 / 3 * -math.log(0.8) + 1 / 3 * -math.log(0.6)) / 3
    expected = math.log(2) + (0.4 + 1.0 + 1.0) / 3 + bce
    got = loss_v4(logits3, conf3, costs, torch.tensor([0, 1, 0]), 1.0, tags=tags)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # the term vanishes as 2r(1-r): a confidence wrong on every sample costs nothing when no sample is tagged there
    none_here = loss_v4(logits3, [torch.tensor([0.99, 0.99, 0.99])], costs, torch.tensor([0, 1, 0]), 1.0,
                        tags=torch.tensor([1, 1, 1]))
    assert none_here.item() == pytest.approx(math.log(2) + 1.0, rel=1e-6)


@pytest.mark.parametrize("weighting", ["reference", "balanced"])
def test_v4_runs_in_float64(weighting):
    logits = [torch.randn(4, 3, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    conf = [torch.rand(4, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    loss = loss_v4(logits, conf, COSTS.double(), torch.tensor([0, 1, 2, 0]), 0.5, weighting=weighting)
    assert loss.dtype == torch.float64 and torch.isfinite(loss)
    loss.backward()


def cost_case():
    """A two-block backbone with pool+linear heads: block MACs 110592 / 36864 / 1064, heads 40 each."""
    from torch import nn

    from eexit.costs.exits import exit_costs
    from eexit.models.backbones.staged import Classifier, StagedBackbone
    from eexit.models.early_exit import EarlyExitNet
    from eexit.models.heads import build_head
    blocks = [nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Conv2d(4, 4, 3, padding=1, stride=2, bias=False),
              Classifier(4, 10)]
    net = EarlyExitNet(StagedBackbone(blocks, ["a", "b", "classifier"], "tiny", 10), [0, 1],
                       [build_head("linear", (4, 32, 32), 10), build_head("linear", (4, 16, 16), 10)])
    return exit_costs(net, (3, 32, 32))


def test_cost_conventions_hand_computed():
    """cumulative: every head on the way counts, the final exit costs 1 + all heads (what evaluation
    reports); own_head: PTEENet's published rates, head i alone and the final exit at exactly 1."""
    from eexit.training.losses import CostAwareLoss
    costs, total = cost_case(), 148520
    cumulative = CostAwareLoss("v1", costs=costs).costs
    own = CostAwareLoss("v1", costs=costs, cost_convention="own_head").costs
    assert cumulative.tolist() == pytest.approx([110632 / total, 147536 / total, 148600 / total])
    assert own.tolist() == pytest.approx([110632 / total, 147496 / total, 1.0])
    assert cumulative[-1] > cumulative[-2]        # the final exit is the most expensive, as it really is
    from eexit.errors import EExitError
    with pytest.raises(EExitError, match="CostAwareLoss: cost_convention='cheap' is not allowed: give one of cumulative, own_head"):
        CostAwareLoss("v1", costs=costs, cost_convention="cheap")


def test_v4_tags_are_fixed_for_an_epoch_and_come_from_the_previous_one():
    from eexit.training.losses import CostAwareLoss, LossInputs
    torch.manual_seed(0)
    n, costs = 16, cost_case()
    loss = CostAwareLoss("v4", lam=0.5, costs=costs, num_train=n, seed=1)
    start = loss.tags.clone()
    assert start.min() >= 0 and start.max() <= 2 and len(set(start.tolist())) > 1    # random at start
    assert {"tags", "next_tags"} <= set(loss.state_dict())                           # checkpointed with the module
    logits = [torch.randn(n, 10) for _ in range(3)]
    conf, y, idx = [torch.rand(n) for _ in range(2)], torch.randint(0, 10, (n,)), torch.arange(n)
    half = idx[:8]
    loss(LossInputs([z[half] for z in logits], [h[half] for h in conf], y[half], half, [0, 1]))
    assert torch.equal(loss.tags, start)                                             # fixed within the epoch
    ce = torch.stack([F.cross_entropy(z[half], y[half], reduction="none") for z in logits])
    loss.on_train_epoch_end()
    assert torch.equal(loss.tags[:8], v4_tags(ce, loss.costs, 0.5))                   # from this epoch's outputs
    assert torch.equal(loss.tags[8:], start[8:])                                     # unseen samples keep theirs


def test_sdn_weights_grow_linearly_to_their_cap_and_weight_the_heads():
    """SDN: w_i = min(tau_i, 0.01 + epoch * tau_i / epochs), epoch from 1; tau = 0.15 ... 0.9 for 6 heads."""
    import torch.nn.functional as F

    from eexit.training.losses import LossInputs, SDNLoss
    loss = SDNLoss(epochs=10)
    loss.on_train_epoch_start(0)
    assert loss.weights(6) == pytest.approx([0.01 + 0.015 * k for k in range(1, 7)])
    loss.on_train_epoch_start(9)                                   # the last epoch: every weight at its cap
    assert loss.weights(6) == pytest.approx([0.15, 0.3, 0.45, 0.6, 0.75, 0.9])
    loss.on_train_epoch_start(4)
    assert loss.weights(3) == pytest.approx([min(0.3, 0.01 + 5 * 0.3 / 10), min(0.6, 0.01 + 5 * 0.6 / 10), 0.9 * 0.5 + 0.01])
    torch.manual_seed(0)
    logits, y = [torch.randn(8, 4) for _ in range(3)], torch.randint(0, 4, (8,))
    w = loss.weights(2)
    want = F.cross_entropy(logits[2], y) + w[0] * F.cross_entropy(logits[0], y) + w[1] * F.cross_entropy(logits[1], y)
    got = loss(LossInputs(logits, [None, None], y, None, [0, 1, 2]))
    assert torch.allclose(got, want)
