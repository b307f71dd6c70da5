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
    assert loss_v4(logits, conf, costs, y, 1.0).item() == pytest.approx(expected, rel=1e-5)


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
    assert loss_v4(logits, conf, costs, y, 1.0, tags=tags).item() == pytest.approx(expected, rel=1e-5)
    # 3 reach exit 0, one positive: weights 0.5/(1/3) = 1.5 for it, 0.5/(2/3) = 0.75 for the others
    conf3, y3 = [torch.tensor([0.9, 0.2, 0.4])], torch.tensor([0, 1, 0])
    logits3 = [torch.zeros(3, 2), torch.zeros(3, 2)]
    bce3 = -(1.5 * math.log(0.9) + 0.75 * math.log(0.8) + 0.75 * math.log(0.6)) / 3
    expected3 = math.log(2) + (0.4 + 1.0 + 1.0) / 3 + bce3
    got = loss_v4(logits3, conf3, costs, y3, 1.0, tags=torch.tensor([0, 1, 1])).item()
    assert got == pytest.approx(expected3, rel=1e-5)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_v4_tags_are_fixed_for_an_epoch_and_come_from_the_previous_one():
    from eexit.methods.cost_aware import FeatureCostAwareModule
    from eexit.models.heads import build_head
    torch.manual_seed(0)
    n, costs = 16, torch.tensor([0.3, 0.6, 1.0])
    heads = [build_head("convx", (4, 4, 4), 3, depth=1) for _ in range(2)]
    finals = torch.randn(n, 3)
    module = FeatureCostAwareModule(heads, {"train": finals, "val": finals}, loss={"version": "v4", "lam": 0.5},
                                    costs=costs, optim={}, prefix="t", num_train=n, seed=1)
    feats, y, idx = [torch.randn(n, 4, 4, 4) for _ in heads], torch.randint(0, 3, (n,)), torch.arange(n)
    start = module.tags.current.clone()
    assert start.min() >= 0 and start.max() <= 2 and len(set(start.tolist())) > 1    # random at start
    half = idx[:8]
    module.training_step(([f[half] for f in feats], y[half], half), 0)
    assert torch.equal(module.tags.current, start)                                     # fixed within the epoch
    with torch.no_grad():
        logits, _, _, _ = module.outputs(([f[half] for f in feats], y[half], half), "train")
        ce = torch.stack([F.cross_entropy(z.float(), y[half], reduction="none") for z in logits])
    module.on_train_epoch_end()
    assert torch.equal(module.tags.current[:8], v4_tags(ce, costs, 0.5))                # from this epoch's outputs
    assert torch.equal(module.tags.current[8:], start[8:])                             # unseen samples keep theirs
