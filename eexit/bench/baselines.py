"""What real skip is compared with: smaller static networks of the same family (their MACs, timing and, given a
checkpoint, their accuracy when trained with the backbone's recipe) and earlyon, the closest library."""
from __future__ import annotations


import torch

from eexit.bench.networks import MIXES, exit_outputs, thresholds_for_mix
from eexit.bench.ratios import ratio_interval
from eexit.deploy.timing import middle, one_by_one, timed_pair, timed_together
from eexit.costs import exit_costs
from eexit.costs.flops import count_macs
from eexit.exits import ExitPolicy
from eexit.models.early_exit import EarlyExitNet
from eexit.training import predict_exits


@torch.no_grad()
def static_rows(net: EarlyExitNet, rows: list[dict], images: torch.Tensor, samples: int) -> list[dict]:
    """For each CPU mix row (batch 1 and the largest batch), the smaller plain network of the backbone's family
    closest to the early exit's expected MACs (``static.py``), timed against the full backbone the way
    the early exit is: its speed-up beside the early exit's, at about the same compute."""
    from eexit.bench.static import closest, family
    variants = family(net.backbone.arch, net.backbone.num_classes)
    if not variants:
        return []
    image_shape, cpu = tuple(images.shape[1:]), torch.device("cpu")
    full = count_macs(net.backbone, torch.zeros(1, *image_shape))
    out = []
    for r in rows:
        if r["device"] != "cpu":
            continue
        name, macs = closest(variants, image_shape, full / r["flop_pred"])
        small = variants[name]
        if r["batch"] == 1:
            xs = [images[i:i + 1] for i in range(samples)]
            extra = one_by_one(net.backbone, small, xs, 5, cpu)
            plain, fast = extra["plain_time"], extra["skip_time"]
        else:
            x = images[:r["batch"]]
            plain, fast = timed_pair(lambda: net.backbone(x), lambda: small(x), 10, cpu)
            extra = {"plain_per_s": r["batch"] / plain, "skip_per_s": r["batch"] / fast}
        out.append({**extra, "device": f"static {name}", "threads": r["threads"], "batch": r["batch"],
                    "mix": f"≈ {r['mix']}", "fractions": None, "flop_pred": full / macs, "stage_pred": None,
                    "measured": plain / fast})
    return out


def static_accuracy(ck, policy: ExitPolicy) -> list[str]:
    """With ``--checkpoint --static``: the backbone, the early exit at its calibrated policy, and the two members
    of the backbone's family around the early exit's MACs, trained as the backbone was (``static.py``),
    on the checkpoint's own test split: test accuracy and MACs side by side."""
    from hydra.utils import instantiate
    from eexit.bench.static import around, builders, family, macs_of, train_like_backbone, training_recipe

    from eexit.evaluation.curves import evaluate
    from eexit.models.backbones import StagedBackbone
    net, image_shape = ck.net, tuple(ck.meta["image_shape"])
    spec = training_recipe(ck.meta["backbone_weights"])
    variants = {n: m for n, m in family(net.backbone.arch, net.backbone.num_classes).items()
                if isinstance(m, StagedBackbone)}
    if spec is None or not variants:
        return ["", "Static baselines not trained: " + ("the checkpoint's backbone weights are the user's own, so "
                                                         "there is no training recipe to repeat" if spec is None else
                                                         f"no smaller family is known for {net.backbone.arch}")]
    dm = instantiate(ck.data)
    cached = predict_exits(net, list(dm.loader("test")), accelerator="cpu")
    costs = exit_costs(net, image_shape)
    ee = evaluate(cached, policy.score_kind, policy.thresholds, costs.fractions)
    full = count_macs(net.backbone, torch.zeros(1, *image_shape))
    macs = macs_of(variants, image_shape)
    backbone_acc = float((cached.backbone_pred == cached.labels).double().mean())
    rows = [f"| backbone {net.backbone.arch} (the checkpoint's) | 1.00 | {100 * backbone_acc:.2f} | — |",
            f"| early exit, {policy.score_kind} policy as calibrated | {ee['cost_fraction']:.2f} | "
            f"{100 * ee['test_acc']:.2f} | — |"]
    for name in around(macs, ee["cost_fraction"] * full):
        got = train_like_backbone(builders(net.backbone.arch, net.backbone.num_classes)[name], ck.data, spec)
        rows.append(f"| static {name}, trained like the backbone | {macs[name] / full:.2f} | {100 * got['test_acc']:.2f} "
                    f"| {got['train_seconds']:.0f} s |")
    epochs = spec["pretrain"]["epochs"]
    return ["", f"Accuracy at about the same compute, on the checkpoint's {cached.labels.numel()} test images of "
                f"{dm.name} (static members trained {epochs} epochs with the backbone's recipe and seed {spec['seed']}):",
            "", "| network | MACs / backbone | test accuracy % | training |", "|---|---|---|---|", *rows]


@torch.no_grad()
def peer_rows(net: EarlyExitNet, images: torch.Tensor, samples: int, repeats: int = 15) -> list[dict]:
    """eexit's ``infer`` and ``infer_one`` (its batch-1 entry point) against earlyon's staged runtime (batch 1 only)
    on the same network, images and exit mix (``earlyon.py``): each library's default heads, then earlyon's
    heads in both (equal head cost). The three are timed ``repeats`` rounds together, the order turning each round;
    each ratio comes with its interval over the rounds."""
    from eexit.bench.earlyon import earlyon_staged, peer_scores, policy_for, staged_with_thresholds, with_peer_heads
    cpu, image_shape = torch.device("cpu"), tuple(images.shape[1:])
    wrapper = earlyon_staged(net, image_shape)
    calib = images[:2048]
    ours = exit_outputs(net, calib, cpu).scores("max_softmax")
    theirs = peer_scores(wrapper, net, calib)
    peer_net = with_peer_heads(net, wrapper)
    xs = [images[i:i + 1] for i in range(samples)]
    rows = []
    for name, mix in MIXES.items():
        peer_thr = thresholds_for_mix(theirs, mix)[:, 0].clamp(max=1.0).tolist()
        staged = staged_with_thresholds(wrapper, peer_thr)
        peer_exits = [staged.infer(x).exit_taken for x in xs]
        peer_frac = torch.bincount(torch.tensor([e if e >= 0 else net.num_exits for e in peer_exits]),
                                   minlength=net.num_exits + 1).double() / samples
        for heads, model, policy in (("each library's own", net, ExitPolicy("max_softmax", thresholds_for_mix(ours, mix))),
                                     ("earlyon's in both", peer_net, policy_for(peer_thr, net.backbone.num_classes))):
            exits = torch.tensor([model.infer_one(x, policy)[1] for x in xs])
            frac = torch.bincount(exits, minlength=net.num_exits + 1).double() / samples
            one, mine, peer = timed_together([lambda m=model, p=policy: [m.infer_one(x, p) for x in xs],
                                              lambda m=model, p=policy: [m.infer(x, p) for x in xs],
                                              lambda s=staged: [s.infer(x) for x in xs]], repeats, cpu)
            rows.append({"heads": heads, "mix": name, "threads": torch.get_num_threads(), "fractions": frac.tolist(),
                         "peer_fractions": peer_frac.tolist(), "eexit_ms": 1e3 * middle(mine) / samples,
                         "earlyon_ms": 1e3 * middle(peer) / samples, "ratio": ratio_interval(mine, peer),
                         "one_ratio": ratio_interval(one, peer)})
    return rows


def peer_table(rows: list[dict]) -> list[str]:
    out = ["| heads | threads | mix | exit % eexit | exit % earlyon | eexit `infer` ms / image | earlyon staged ms / "
           "image | eexit `infer` / earlyon (geometric mean of the rounds, 95 % interval) | eexit `infer_one` / earlyon "
           "|", "|---|---|---|---|---|---|---|---|---|"]

    def ratio(q: dict) -> str:
        interval = "" if q["low"] is None else f" [{q['low']:.3f}, {q['high']:.3f}]"
        return f"{q['mean']:.3f}{interval}: {q['verdict']}"
    for r in rows:
        mix = ["/".join(f"{100 * f:.0f}" for f in r[k]) for k in ("fractions", "peer_fractions")]
        out.append(f"| {r['heads']} | {r['threads']} | {r['mix']} | {mix[0]} | {mix[1]} | {r['eexit_ms']:.2f} | "
                   f"{r['earlyon_ms']:.2f} | {ratio(r['ratio'])} ({r['ratio']['pairs']} rounds) | "
                   f"{ratio(r['one_ratio'])} |")
    return out
