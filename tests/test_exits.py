"""Exit policies, real-skip inference against the simulation, CPM and evaluation on hand-made numbers."""
from __future__ import annotations

import math

import pytest
import torch
from conftest import off_scores

from eexit.evaluation.curves import headline, operating_point, pareto_front, simulate
from eexit.exits import CachedExits, ClassPrecisionMargin, ExitPolicy, GlobalThreshold
from eexit.exits.cpm import INF, calibrate_cpm, class_precision, cpm_head_thresholds, target_precision
from eexit.models.backbones import build_backbone
from eexit.models.early_exit import EarlyExitNet
from eexit.models.heads import build_head

HEADS = [("linear", {}, "max_softmax"), ("conv1d", {}, "entropy"), ("convx", {"depth": 1}, "confidence"),
         ("eenet", {"block": "pool"}, "confidence"), ("eenet", {"block": "plain"}, "max_softmax"),
         ("linear", {}, "patience")]


@torch.no_grad()
def collect(net, batches) -> CachedExits:
    """Every exit's output on ``batches``, through ``EarlyExitModule.predict_step`` (as evaluation does)."""
    from eexit.training import EarlyExitModule, ExitCrossEntropy
    module = EarlyExitModule(net, ExitCrossEntropy(), optimizer=None)
    return CachedExits.cat([module.predict_step(b, i) for i, b in enumerate(batches)])


def make_net(kind, opts, seed=0):
    torch.manual_seed(seed)
    bb = build_backbone("resnet20").eval()
    attach = [2, 5, 8]
    shapes = bb.feature_shapes((3, 32, 32))
    return EarlyExitNet(bb, attach, [build_head(kind, shapes[a], 10, **opts) for a in attach]).eval()


@pytest.mark.parametrize("kind,opts,score_kind", HEADS)
@pytest.mark.parametrize("batch", [1, 7, 33])
def test_infer_equals_simulation(kind, opts, score_kind, batch):
    net = make_net(kind, opts)
    gen = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, 3, 32, 32, generator=gen)
    cached = collect(net, [(x, torch.zeros(batch, dtype=torch.long))])
    scores = cached.scores(score_kind)
    for trial in range(4):
        # per-class thresholds drawn around the observed scores, some classes never exit
        thr = scores.min() + (scores.max() - scores.min()) * torch.rand(3, 10, generator=gen)
        thr[torch.rand(3, 10, generator=gen) < 0.2] = INF
        thr = off_scores(thr, scores)
        policy = ExitPolicy(score_kind, thr)
        sim_pred, sim_exit = simulate(scores, cached.head_pred, cached.backbone_pred, thr)
        pred, exit_idx = net.infer(x, policy)
        assert torch.equal(exit_idx, sim_exit) and torch.equal(pred, sim_pred)


def test_infer_never_exit_and_all_exit():
    net = make_net("linear", {})
    x = torch.randn(5, 3, 32, 32)
    pred, exit_idx = net.infer(x, ExitPolicy.global_threshold("max_softmax", INF, 3, 10))
    assert (exit_idx == 3).all() and torch.equal(pred, net.backbone(x).argmax(1))
    pred, exit_idx = net.infer(x, ExitPolicy.global_threshold("max_softmax", 0.0, 3, 10))
    assert (exit_idx == 0).all() and torch.equal(pred, net.forward_all(x).logits[0].argmax(1))


def test_simulate_hand_made():
    scores = torch.tensor([[0.9, 0.2, 0.6], [0.1, 0.95, 0.3]])
    head_pred = torch.tensor([[1, 0, 2], [1, 0, 0]])
    final = torch.tensor([5, 6, 7])
    thr = torch.full((2, 10), 0.5)
    thr[0, 2] = 0.7  # class 2 needs more at head 0
    pred, exit_idx = simulate(scores, head_pred, final, thr)
    assert exit_idx.tolist() == [0, 1, 2] and pred.tolist() == [1, 0, 7]


def test_operating_point_hand_made():
    pred = torch.tensor([1, 0, 7, 3])
    exit_idx = torch.tensor([0, 1, 2, 2])
    labels = torch.tensor([1, 1, 7, 3])
    backbone = torch.tensor([1, 0, 7, 4])
    point = operating_point(pred, exit_idx, labels, backbone, torch.tensor([0.2, 0.5, 1.1]))
    assert point["test_acc"] == 0.75 and point["agreement"] == 0.75
    assert point["exit_fractions"] == [0.25, 0.25, 0.5]
    assert point["cost_fraction"] == pytest.approx(0.25 * 0.2 + 0.25 * 0.5 + 0.5 * 1.1)


def test_pareto_and_headline():
    pts = [{"setting": s, "test_acc": a, "cost_fraction": c, "agreement": a}
           for s, a, c in [(0, 0.90, 0.3), (1, 0.95, 0.5), (2, 0.94, 0.6), (3, 0.97, 0.8), (4, 0.985, 0.95)]]
    assert [p["setting"] for p in pareto_front(pts)] == [0, 1, 3, 4]
    h = headline(pts, backbone_acc=0.99)
    assert h["drop_1pt"]["setting"] == 4 and h["drop_1pt"]["cost_reduction"] == pytest.approx(0.05)
    assert h["drop_2pt"]["setting"] == 3 and h["drop_5pt"]["setting"] == 1
    assert headline(pts, backbone_acc=1.2)["drop_5pt"] is None


def test_entropy_score_range():
    from eexit.exits.policy import score
    logits = torch.tensor([[100.0, 0, 0], [0.0, 0, 0]])
    s = score("entropy", logits, None)
    assert s[0] == pytest.approx(1.0, abs=1e-6) and s[1] == pytest.approx(0.0, abs=1e-6)


# ---- CPM ---------------------------------------------------------------------------------

def test_class_precision_and_targets():
    pred = torch.tensor([0, 0, 0, 1, 1, 2])
    labels = torch.tensor([0, 0, 1, 1, 0, 2])
    prec = class_precision(pred, labels, 4)
    assert prec.tolist() == pytest.approx([2 / 3, 0.5, 1.0, 1.0])  # class 3 never predicted -> 1
    assert target_precision(prec, 0.1, "additive").tolist() == pytest.approx([2 / 3 - 0.1, 0.4, 0.9, 0.9])
    assert target_precision(prec, 0.1, "multiplicative").tolist() == pytest.approx([0.6, 0.45, 0.9, 0.9])


def test_cpm_head_thresholds_hand_computed():
    # class 0 predicted for 5 samples, scores desc 0.9 .8 .7 .6 .5 with correctness 1 1 0 1 0
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.95, 0.4])
    pred = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    ref = torch.tensor([0, 0, 1, 0, 2, 0, 1])   # class 1: 0.95 wrong, 0.4 right
    # prefix precisions for class 0: 1, 1, 2/3, 3/4, 3/5
    t = cpm_head_thresholds(scores, pred, ref, torch.tensor([0.75, 0.5, 0.9]))
    assert t[0] == pytest.approx(0.6)            # longest prefix with precision >= .75 ends at 0.6
    assert t[1] == pytest.approx(0.4)            # 1/2 >= 0.5 only with both samples
    assert math.isinf(t[2])                      # never predicted: never exits
    t = cpm_head_thresholds(scores, pred, ref, torch.tensor([0.8, 0.6, 0.9]))
    assert t[0] == pytest.approx(0.8) and math.isinf(t[1])   # class 1 never reaches 0.6: never exits
    t = cpm_head_thresholds(scores, pred, ref, torch.tensor([0.75, 0.5, 0.9]), min_support=3)
    assert t[0] == pytest.approx(0.6) and math.isinf(t[1])   # class 1 has only 2 samples


def test_cpm_ties_move_together():
    scores = torch.tensor([0.9, 0.7, 0.7])
    pred = torch.zeros(3, dtype=torch.long)
    ref = torch.tensor([0, 0, 1])
    # prefix of 2 has precision 1, but 0.7 is tied with a wrong sample: the cut must stay at 0.9
    t = cpm_head_thresholds(scores, pred, ref, torch.tensor([0.9]))
    assert t[0] == pytest.approx(0.9)


def per_class_thresholds(scores, pred, reference, target, min_support=1):
    """CPM one class at a time, straight from the definition: the reference the vectorised form must equal."""
    out = torch.full((target.numel(),), INF)
    for c in range(target.numel()):
        mine = pred == c
        if int(mine.sum()) < max(min_support, 1):
            continue
        s, order = scores[mine].float().sort(descending=True)
        n = torch.arange(1, s.numel() + 1, dtype=torch.float32)
        precision = (reference[mine][order] == c).float().cumsum(0) / n
        cut = torch.cat([s[:-1] > s[1:], torch.tensor([True])])
        ok = cut & (precision >= target[c] - 1e-12) & (n >= min_support)
        if ok.any():
            out[c] = float(s[int(torch.nonzero(ok).max())])
    return out


@pytest.mark.parametrize("seed", range(6))
def test_cpm_thresholds_equal_the_per_class_definition(seed):
    g = torch.Generator().manual_seed(seed)
    n, k = int(torch.randint(0, 400, (1,), generator=g)), 7
    scores = (torch.rand(n, generator=g) * 20).round() / 20   # many ties
    pred, ref = torch.randint(0, k - 1, (n,), generator=g), torch.randint(0, k, (n,), generator=g)
    ref = torch.where(torch.rand(n, generator=g) < 0.7, pred, ref)
    for min_support in (1, 5):
        target = torch.rand(k, generator=g) * 0.5 + 0.5
        got = cpm_head_thresholds(scores, pred, ref, target, min_support)
        assert torch.equal(got, per_class_thresholds(scores, pred, ref, target, min_support)), (got, seed)


def test_calibrate_cpm_on_survivors():
    # head 0 exits sample 0 (score .9 >= threshold); head 1 is calibrated only on samples 1, 2
    scores = torch.tensor([[0.9, 0.1, 0.2], [0.99, 0.8, 0.6]])
    head_pred = torch.tensor([[0, 0, 0], [0, 0, 0]])
    ref = torch.tensor([0, 0, 1])
    prec = torch.tensor([1.0])
    thr = calibrate_cpm(scores, head_pred, ref, prec, 0.0, "additive", survivors_only=True)
    assert thr[0, 0] == pytest.approx(0.9)
    assert thr[1, 0] == pytest.approx(0.8)        # 0.99 (an exited sample) is not in its pool
    fixed = torch.tensor([[0.95], [float("nan")]])
    thr = calibrate_cpm(scores, head_pred, ref, prec, 0.0, fixed=fixed)
    assert thr[0, 0] == pytest.approx(0.95) and thr[1, 0] == pytest.approx(0.8)


def test_cached_exits_subset_and_scores():
    logits = torch.randn(3, 4, 5)
    conf = torch.tensor([[0.1, 0.2, 0.3, 0.4], [float("nan")] * 4])
    c = CachedExits(logits, conf, torch.arange(4))
    assert c.num_exits == 2 and c.scores("max_softmax").shape == (2, 4)
    sub = c.subset(torch.tensor([True, False, True, False]))
    assert sub.labels.tolist() == [0, 2] and sub.logits.shape == (3, 2, 5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_bucketed_infer_equals_simulation(channels_last):
    from eexit.models.early_exit import pad_to_bucket
    net = make_net("convx", {"depth": 1})
    x = torch.randn(45, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    cached = collect(net, [(x, torch.zeros(45, dtype=torch.long))])
    scores = cached.scores("confidence")
    thr = off_scores(scores.quantile(0.6, dim=1, keepdim=True).expand(3, 10), scores)
    policy = ExitPolicy("confidence", thr)
    sim_pred, sim_exit = simulate(scores, cached.head_pred, cached.backbone_pred, thr)
    net.warmup([8, 16, 32, 64], (3, 32, 32))
    pred, exit_idx = net.infer(x, policy, buckets=[8, 16, 32, 64])
    assert torch.equal(exit_idx, sim_exit) and torch.equal(pred, sim_pred)
    assert 0 < (exit_idx < 3).sum() < 45                       # some exit, some go on
    padded = pad_to_bucket(x[:5], [8, 16])
    assert padded.shape[0] == 8 and torch.equal(padded[:5], x[:5]) and (padded[5:] == 0).all()
    assert padded.is_contiguous(memory_format=torch.channels_last) == channels_last


@pytest.mark.parametrize("kind,opts,score_kind", HEADS[1:3])
def test_one_by_one_infer_equals_simulation(kind, opts, score_kind):
    """Batch-1 decisions are taken on the host; they equal the batched simulation's (thresholds between scores:
    the two paths compute a score in another floating-point order)."""
    net = make_net(kind, opts)
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    cached = collect(net, [(x, torch.zeros(12, dtype=torch.long))])
    scores = cached.scores(score_kind)
    thr = off_scores(scores.median(dim=1, keepdim=True).values.expand(3, 10), scores)
    policy = ExitPolicy(score_kind, thr)
    sim_pred, sim_exit = simulate(scores, cached.head_pred, cached.backbone_pred, thr)
    one = [net.infer_one(x[i:i + 1], policy) for i in range(12)]
    assert [p for p, _ in one] == sim_pred.tolist() and [e for _, e in one] == sim_exit.tolist()
    assert (sim_exit == 0).sum() >= 5                          # about half leave at head 0


@pytest.mark.parametrize("score_kind", ["max_softmax", "entropy", "confidence"])
@pytest.mark.parametrize("per_class", [False, True])
def test_decide_one_and_decide_tie_as_greater_or_equal(score_kind, per_class):
    """A score exactly at its threshold leaves, on the host (decide_one) as in the tensor rule (decide); one float
    above it does not. Both read the same tensors, so the tie is exact on any CPU."""
    from eexit.exits.policy import score
    logits, conf = torch.tensor([[0.3, 2.0, -1.0, 0.5]]), torch.tensor([[0.625]])
    s = float(score(score_kind, logits, conf))
    above = float(torch.nextafter(torch.tensor(s), torch.tensor(math.inf)))
    for threshold, leaves in ((s, True), (above, False)):
        thr = torch.full((1, 4), threshold)
        if per_class:
            thr[0, 0] = INF   # another class's threshold: the shared-threshold shortcut is off
        policy = ExitPolicy(score_kind, thr)
        leave, pred = policy.decide(0, logits, conf)
        assert policy.decide_one(0, logits, conf)[0] == bool(leave) == leaves and int(pred) == 1


@pytest.mark.parametrize("kind,opts,score_kind", HEADS[1:3])
def test_one_by_one_infer_equals_simulation_with_per_class_and_closed_exits(kind, opts, score_kind):
    """decide_one reads the class only where it decides: per-class thresholds (some classes never leave), an exit
    closed to every class (all inf, nothing computed) and a shared threshold must all exit as the simulation does."""
    net = make_net(kind, opts)
    x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    cached = collect(net, [(x, torch.zeros(16, dtype=torch.long))])
    scores = cached.scores(score_kind)
    thr = off_scores(scores.median(dim=1, keepdim=True).values.expand(3, 10), scores)
    thr[0, ::2] = float("inf")              # head 0: even classes never leave, odd ones at the median
    thr[1] = float("inf")                   # head 1: closed
    policy = ExitPolicy(score_kind, thr)
    sim_pred, sim_exit = simulate(scores, cached.head_pred, cached.backbone_pred, thr)
    one = [net.infer_one(x[i:i + 1], policy) for i in range(16)]
    assert [p for p, _ in one] == sim_pred.tolist() and [e for _, e in one] == sim_exit.tolist()
    assert 1 not in sim_exit.tolist() and len(set(sim_exit.tolist())) >= 2


def test_fold_batchnorm_keeps_outputs_and_leaves_the_original():
    from eexit.models.fold import fold_batchnorm
    net = make_net("conv1d", {})
    for m in net.modules():  # non-trivial running statistics, so folding has something to do
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(6, 3, 32, 32)
    folded, count = fold_batchnorm(net)
    n_bn = sum(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in net.modules())
    assert count == n_bn == 21 + 3 * 2         # resnet20: stem, 18 convs, 2 shortcuts; 2 per conv1d head
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in folded.modules())
    with torch.no_grad():
        for a, b in zip(net.forward_all(x).logits, folded.forward_all(x).logits):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * a.abs().max().item())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 21   # original untouched


@pytest.mark.parametrize("fold", [False, True])
def test_exported_stages_infer_like_the_network(tmp_path, fold):
    from eexit.deploy.export import ExportedExitNet, export_exit_net
    from eexit.models.fold import fold_batchnorm
    net = make_net("convx", {"depth": 1})
    x = torch.randn(9, 3, 32, 32, generator=torch.Generator().manual_seed(11))
    reference = fold_batchnorm(net)[0] if fold else net
    scores = collect(reference, [(x, torch.zeros(9, dtype=torch.long))]).scores("confidence")
    policy = ExitPolicy("confidence", off_scores(scores.quantile(0.8, dim=1, keepdim=True).expand(3, 10), scores))
    exported = ExportedExitNet(export_exit_net(net, policy, tmp_path / "exp", (3, 32, 32), fold=fold))
    assert torch.equal(exported.policy.thresholds, policy.thresholds) and exported.num_exits == 3
    for batch in (x, x[:1]):
        got, want = exported.infer(batch, exported.policy), reference.infer(batch, policy)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert 0 < (reference.infer(x, policy)[1] < 3).sum() < 9                      # some exit, some reach the end
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == ["exits.json"] + [f"stage{i}.pt2" for i in range(4)]


def test_a_damaged_swapped_or_edited_export_is_refused_in_one_line(tmp_path):
    """exits.json carries a checksum of every stage file and of itself: a flipped byte in a stage, two stages
    swapped, or a threshold edited by hand each give one line naming the file, never a run on other weights."""
    import json
    import shutil

    from eexit.errors import EExitError
    from eexit.deploy.export import ExportedExitNet, export_exit_net
    net = make_net("convx", {"depth": 1})
    export_exit_net(net, ExitPolicy("confidence", torch.full((3, 10), 0.7)), tmp_path / "good", (3, 32, 32))

    def tampered(name, change):
        folder = tmp_path / name
        shutil.copytree(tmp_path / "good", folder)
        change(folder)
        with pytest.raises(EExitError) as err:
            ExportedExitNet(folder)
        assert "\n" not in str(err.value) and "python -m eexit.deploy.export" in str(err.value)
        return str(err.value)

    def flip(folder):
        raw = bytearray((folder / "stage1.pt2").read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        (folder / "stage1.pt2").write_bytes(bytes(raw))

    def swap(folder):
        a, b = folder / "stage1.pt2", folder / "stage2.pt2"
        a.rename(folder / "t"), b.rename(a), (folder / "t").rename(b)

    def edit(folder):
        meta = json.loads((folder / "exits.json").read_text())
        meta["thresholds"][0][0] = 0.1
        (folder / "exits.json").write_text(json.dumps(meta))
    assert "stage1.pt2 is missing or does not match its checksum" in tampered("flipped", flip)
    assert "stage1.pt2 is missing or does not match its checksum" in tampered("swapped", swap)
    assert "exits.json does not match its checksum" in tampered("edited", edit)
    assert ExportedExitNet(tmp_path / "good").num_exits == 3


def cached_case(seed, n=300):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=gen)
    logits = torch.randn(3, n, 4, generator=gen) * 2
    logits[:, torch.arange(n), labels] += torch.tensor([1.0, 2.0, 3.0]).view(3, 1)   # deeper exits are better
    return CachedExits(logits, torch.full((2, n), float("nan")), labels)


@pytest.mark.parametrize("make", [lambda: ClassPrecisionMargin(margin=0.02, min_support=1),
                                  lambda: GlobalThreshold("max_softmax", 0.9)], ids=["cpm", "global"])
def test_curves_span_from_the_backbone_to_the_first_exit(make):
    """Every policy's curve reaches the backbone's own accuracy at its strict end (no sample exits, at
    the cost of the backbone plus every head) and, at the other end, sends (nearly) everyone out first."""
    from eexit.evaluation.curves import curve
    calibrator, val, test = make(), cached_case(0), cached_case(1)
    costs = torch.tensor([0.3, 0.6, 1.05])
    points = curve(test, calibrator.score, calibrator.settings(val), calibrator.thresholds_fn(val), costs)
    strict = [p for p in points if p["exit_fractions"][-1] == 1.0]
    assert strict and strict[0]["test_acc"] == pytest.approx(float((test.backbone_pred == test.labels).double().mean()))
    assert strict[0]["cost_fraction"] == pytest.approx(1.05)
    assert max(p["exit_fractions"][0] for p in points) >= 0.9
    assert len({round(p["cost_fraction"], 6) for p in points}) >= 5        # and points in between


def test_cpm_calibrates_each_margin_once_and_hands_out_copies(monkeypatch):
    """A regime's validation curve, test curve and operating point ask for the same margins: each is calibrated
    once, every caller gets the same values in its own tensor, and with ``fixed`` rows kept."""
    import eexit.exits.calibrators as calibrators
    calls = []
    real = calibrators.calibrate_cpm
    monkeypatch.setattr(calibrators, "calibrate_cpm", lambda *a: calls.append(a[4]) or real(*a))
    val = cached_case(0)
    fixed = torch.full((2, 4), float("nan"))
    fixed[0] = 0.75
    fn = ClassPrecisionMargin(margin=0.02, min_support=1).thresholds_fn(val, fixed)
    first = fn(0.05)
    first.fill_(-1.0)                                            # a caller's change stays its own
    again, other = fn(0.05), fn(0.1)
    assert calls == [0.05, 0.1]
    assert torch.equal(again, real(val.scores("max_softmax"), val.head_pred, val.labels,
                                   calibrators.class_precision(val.backbone_pred, val.labels, 4), 0.05,
                                   "additive", True, 1, fixed))
    assert (again[0] == 0.75).all() and not torch.equal(again, other)


def test_real_skip_sample_is_spread_over_the_exits():
    from eexit.pipeline.settle import spread_over_exits
    exit_idx = torch.tensor([0, 0, 0, 1, 3, 3, 0])
    assert spread_over_exits(exit_idx, 4).tolist() == [0, 1, 3, 4]          # round robin over exits 0, 1, 3
    assert spread_over_exits(exit_idx, 6).tolist() == [0, 1, 2, 3, 4, 5]
    assert spread_over_exits(exit_idx, 100).tolist() == list(range(7))      # never more than there are
    assert spread_over_exits(exit_idx, 0).tolist() == []


def hand_case() -> CachedExits:
    """2 heads + backbone, 4 samples, 2 classes; labels [0, 1, 1, 0]."""
    big = 4.0
    logits = torch.tensor([
        [[big, 0], [big, 0], [0, big], [0, big]],      # head 0: right, wrong, right, wrong
        [[big, 0], [0, big], [0, big], [big, 0]],      # head 1: all right
        [[big, 0], [0, big], [big, 0], [big, 0]],      # backbone: right, right, wrong, right
    ])
    return CachedExits(logits, torch.full((2, 4), float("nan")), torch.tensor([0, 1, 1, 0]))


def test_anytime_rows_are_each_exit_alone():
    from eexit.evaluation.analysis import anytime
    rows = anytime(hand_case(), torch.tensor([0.2, 0.5, 1.0]))
    assert [r["accuracy"] for r in rows] == [0.5, 1.0, 0.75]
    assert [r["agreement"] for r in rows] == [0.25, 0.75, 1.0]    # head 0 (0,0,1,1) vs backbone (0,1,0,0)
    assert [r["cost_fraction"] for r in rows] == pytest.approx([0.2, 0.5, 1.0])


def test_calibration_ece_and_failure_auroc_by_hand():
    from eexit.evaluation.analysis import calibration
    cached = hand_case()
    conf = torch.softmax(torch.tensor([4.0, 0.0]), 0)[0].item()           # every answer's confidence
    rows = calibration(cached, "max_softmax")
    # one bin holds all 4 samples: ECE = |accuracy - confidence|
    assert [r["ece"] for r in rows] == pytest.approx([abs(0.5 - conf), abs(1.0 - conf), abs(0.75 - conf)], abs=1e-6)
    assert rows[1]["failure_auroc"] is None                           # all right: AUROC undefined
    assert rows[0]["failure_auroc"] == pytest.approx(0.5)             # equal scores tell nothing
    assert rows[0]["reliability"] == [{"low": pytest.approx(14 / 15), "high": pytest.approx(1.0), "count": 4,
                                       "confidence": pytest.approx(conf), "accuracy": 0.5}]
    sharp = CachedExits(torch.tensor([[[3.0, 0], [0.2, 0]], [[1.0, 0], [1.0, 0]]]), torch.full((1, 2), float("nan")),
                        torch.tensor([0, 1]))
    assert calibration(sharp, "max_softmax")[0]["failure_auroc"] == 1.0   # the right answer has the higher score


def test_confusion_matrices_count_true_by_predicted():
    from eexit.evaluation.analysis import confusion
    assert confusion(hand_case()) == [[[1, 1], [1, 1]], [[2, 0], [0, 2]], [[2, 0], [1, 1]]]


def graded_exits(n: int = 400, k: int = 5) -> CachedExits:
    """Random logits for 3 heads and the backbone, each later exit more often right (current RNG)."""
    labels = torch.randint(0, k, (n,))
    logits = torch.randn(4, n, k)
    for e, strength in enumerate([0.5, 1.5, 2.5, 4.0]):
        logits[e, torch.arange(n), labels] += strength
    return CachedExits(logits, torch.full((3, n), float("nan")), labels)


def test_budgeted_points_meet_each_budget_on_validation_and_are_the_most_accurate():
    from eexit.evaluation.curves import evaluate
    from eexit.evaluation.analysis import budgeted, threshold_candidates
    torch.manual_seed(0)
    val = graded_exits()
    k = val.num_classes
    fr = torch.tensor([0.2, 0.45, 0.7, 1.0])
    rows = budgeted(val, val, "max_softmax", fr, [0.1, 0.3, 0.6, 1.0])
    assert rows[0]["threshold"] is None                      # below the first exit's cost: nothing qualifies
    scores = val.scores("max_softmax")
    every = [(t, evaluate(val, "max_softmax", torch.full((3, k), t), fr)) for t in threshold_candidates(scores)]
    for row in rows[1:]:
        assert row["val_cost_fraction"] <= row["budget"] + 1e-12
        best = max(p["test_acc"] for _, p in every if p["cost_fraction"] <= row["budget"] + 1e-12)
        assert row["val_acc"] == best and row["test_acc"] == row["val_acc"]    # test = val here
    assert rows[-1]["val_acc"] >= rows[1]["val_acc"]


def test_patience_leaves_after_t_agreeing_exits():
    """PBEE: the streak counts consecutive exits (ending here) predicting the same class; threshold t
    leaves at the first exit whose streak reaches t. Hand-made predictions of 3 heads on 3 samples."""
    def onehot(classes):
        return torch.nn.functional.one_hot(torch.tensor(classes), 4).float() * 5
    preds = [[1, 1, 3], [1, 2, 1], [1, 2, 3]]          # head i's prediction for samples 0, 1, 2
    logits = torch.stack([onehot(p) for p in preds] + [onehot([0, 0, 0])])
    cached = CachedExits(logits, torch.full((3, 3), float("nan")), torch.tensor([1, 2, 0]))
    assert cached.scores("patience").tolist() == [[1, 1, 1], [2, 1, 1], [3, 2, 1]]
    thr = torch.full((3, 4), 2.0)
    pred, exit_idx = simulate(cached.scores("patience"), cached.head_pred, cached.backbone_pred, thr)
    assert exit_idx.tolist() == [1, 2, 3] and pred.tolist() == [1, 2, 0]


def test_geometric_budgets_follow_the_shares_and_meet_each_budget():
    """MSDNet's geometric exit distribution: thresholds fitted down the exits give the target shares,
    and each budget's point is the most accurate ratio within it on validation."""
    from eexit.evaluation.curves import simulate
    from eexit.evaluation.analysis import budgeted_geometric, geometric_thresholds
    torch.manual_seed(1)
    scores = torch.rand(3, 1000)
    shares = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    thr = geometric_thresholds(scores, shares)
    _, idx = simulate(scores, torch.zeros(3, 1000, dtype=torch.long), torch.zeros(1000, dtype=torch.long),
                      thr.view(3, 1).expand(3, 2))
    assert torch.bincount(idx, minlength=4).tolist() == [400, 300, 200, 100]
    val = graded_exits()
    k = val.num_classes
    fr = torch.tensor([0.2, 0.45, 0.7, 1.0])
    rows = budgeted_geometric(val, val, "max_softmax", fr, [0.1, 0.4, 0.8])
    assert rows[0]["ratio"] is None
    for row in rows[1:]:
        assert row["val_cost_fraction"] <= row["budget"] and row["test_acc"] == row["val_acc"]
    assert rows[2]["val_acc"] >= rows[1]["val_acc"]


@pytest.mark.parametrize("num_exits", [0, 1, 3])
def test_operating_points_equal_one_table_at_a_time(num_exits):
    """The batched evaluation of many threshold tables (curves, budgeted analyses) gives exactly the numbers
    of simulate + operating_point per table, with ties, 'never' (inf) and 'always' (-inf) thresholds."""
    from eexit.evaluation.curves import operating_point, operating_points, simulate
    g = torch.Generator().manual_seed(num_exits)
    n, k = 97, 5
    logits = (torch.randn(num_exits + 1, n, k, generator=g) * 4).round()
    cached = CachedExits(logits, torch.full((num_exits, n), float("nan")), torch.randint(0, k, (n,), generator=g))
    scores = cached.scores("max_softmax")
    tables = torch.rand(70, num_exits, k, generator=g)
    tables[3], tables[5] = float("inf"), -float("inf")
    tables[7, :, 1] = float("inf")
    costs = torch.tensor([0.3, 0.5, 0.7, 1.1][-(num_exits + 1):])
    batched = operating_points(cached, scores, tables, costs, chunk=16)
    one_by_one = [operating_point(*simulate(scores, cached.head_pred, cached.backbone_pred, t), cached.labels,
                                  cached.backbone_pred, costs) for t in tables]
    assert batched == one_by_one
