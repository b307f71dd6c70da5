#!/usr/bin/env python
"""Real-skip early-exit inference against the plain backbone, beside two predictions.

    python benchmarks/latency.py [--backbone resnet18] [--head conv1d] [--rule linear] [--exits 3]

For three exit mixes (fractions leaving at each head, the rest at the backbone) the
thresholds are set on a calibration batch so the mix is met; then ``infer`` (which
drops exited samples from the batch) is timed against ``backbone(x)`` at batch 1
and 64 on the CPU, and 1024 on a GPU when present (bucketed, pre-warmed). The
speed-up is compared with the FLOP-predicted one and with the one predicted from
measured stage times (each segment + head timed on the full batch). Weights are
random: latency does not depend on them. Appends a table to benchmarks/local/RESULTS-latency.md (not
tracked by git); ``--record`` appends it to the tracked benchmarks/RESULTS-latency.md instead.

    python benchmarks/latency.py --checkpoint outputs/<date>/<time>/checkpoints/boosted.pt

times a trained network instead: its calibrated policy on its run's own test images.
"""
from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eexit.costs.exits import exit_costs  # noqa: E402
from eexit.deploy.checkpoint import load_exit_checkpoint  # noqa: E402
from eexit.errors import EExitError  # noqa: E402
from eexit.evaluation.curves import simulate  # noqa: E402
from eexit.exits import ExitPolicy  # noqa: E402
from eexit.costs.flops import block_macs, count_macs, cumulative  # noqa: E402
from eexit.models.backbones import build_backbone  # noqa: E402
from eexit.models.early_exit import EarlyExitNet  # noqa: E402
from eexit.models.fold import fold_batchnorm  # noqa: E402
from eexit.models.heads import build_head  # noqa: E402
from eexit.costs.placement import place_by_rule  # noqa: E402
from eexit.training import predict_exits  # noqa: E402

MIXES = {"early-heavy": [0.6, 0.2, 0.1], "balanced": [0.3, 0.2, 0.2], "late": [0.1, 0.1, 0.2]}
DEFAULT_IMAGE = (3, 32, 32)   # the random-weight benchmark's input; --image-size changes it
BUCKETS = [64, 128, 256, 384, 512, 640, 768, 896, 1024]


def build_net(backbone: str, head: str, rule: str, exits: int, fold: bool = True,
              image_shape: tuple[int, ...] = DEFAULT_IMAGE) -> EarlyExitNet:
    """Random-weight net for ``image_shape`` inputs (``backbone``: an eexit name, or
    ``timm:<model>`` / ``torchvision:<model>``); ``fold``: BatchNorm folded into the convolutions
    (the deployed form), which speeds the plain backbone and the early-exit path alike."""
    torch.manual_seed(0)
    bb = build_backbone(backbone).eval()
    attach = place_by_rule(rule, exits, cumulative(block_macs(bb, image_shape)))
    shapes = bb.feature_shapes(image_shape)
    net = EarlyExitNet(bb, attach, [build_head(head, shapes[a], 10) for a in attach]).eval()
    return fold_batchnorm(net)[0] if fold else net


def random_images(image_shape: tuple[int, ...], n: int) -> torch.Tensor:
    return torch.randn(n, *image_shape, generator=torch.Generator().manual_seed(1))


def exit_outputs(net: EarlyExitNet, images: torch.Tensor, device: torch.device):
    """Every exit's outputs on ``images`` (in chunks of 512, labels unused), for setting thresholds."""
    return predict_exits(net, [(images[i:i + 512], torch.zeros(min(512, images.shape[0] - i), dtype=torch.long))
                               for i in range(0, images.shape[0], 512)], accelerator=device.type)


def thresholds_for_mix(scores: torch.Tensor, mix: list[float]) -> torch.Tensor:
    """Per-head global thresholds so that fraction ``mix[k]`` of all samples leaves at head k."""
    n = scores.shape[1]
    alive = torch.ones(n, dtype=torch.bool)
    rows = []
    for k, frac in enumerate(mix):
        want = int(round(frac * n))
        s = scores[k][alive].sort(descending=True).values
        thr = float(s[want - 1]) if want > 0 else float("inf")
        rows.append(thr)
        alive &= ~(scores[k] >= thr)
    return torch.tensor(rows).view(-1, 1).expand(-1, 10).contiguous()


def fail(message: str) -> None:
    """Bad input: one line on stderr, exit status 2, before any timing."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def timed(fn, repeats: int, device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls, after warm-up."""
    return timed_pair(fn, None, repeats, device)[0]


def timed_pair(fn_a, fn_b, repeats: int, device) -> tuple[float, float | None]:
    """Median seconds of ``fn_a()`` and ``fn_b()`` timed in alternation, after warm-up.

    Alternating the two calls exposes both to the same drift of a shared or throttled
    machine, so their ratio is steadier than that of two separate timing runs."""
    times = timed_together([f for f in (fn_a, fn_b) if f is not None], repeats, device)
    return middle(times[0]), (middle(times[1]) if fn_b is not None else None)


def middle(seconds: list[float]) -> float:
    """The median of timings (the upper one of an even count: always a measured value)."""
    return sorted(seconds)[len(seconds) // 2]


def timed_together(fns: list, repeats: int, device) -> list[list[float]]:
    """Seconds of every call of each of ``fns``, ``repeats`` rounds after three warm-up rounds: round i of each is
    measured under the same conditions (a pair, for two). The order turns each round (a, b, then b, a; a, b, c,
    then b, c, a, ...), so none is always the one that runs right after another (a batch-1 loop timed right after
    another measured differently from the same loop timed first)."""
    for _ in range(3):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    order = list(range(len(fns)))
    for r in range(repeats):
        turn = order[r % len(fns):] + order[:r % len(fns)]
        for i in turn:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fns[i]()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[i].append(time.perf_counter() - t)
    return times


def ratio_interval(a: list[float], b: list[float]) -> dict:
    """Ratio a / b of paired timings: the geometric mean of the pairs' ratios and its 95 % Student-t interval (on
    the log ratios), with the verdict ``faster`` / ``slower`` when the interval excludes 1, else
    ``indistinguishable``."""
    from eexit.reporting.stats import mean_interval
    logs = mean_interval([math.log(x / y) for x, y in zip(a, b)])
    ratio = {k: None if logs[k] is None else math.exp(logs[k]) for k in ("mean", "low", "high")}
    ratio["pairs"] = logs["n"]
    ratio["verdict"] = ("one pair" if ratio["low"] is None else "faster" if ratio["high"] < 1
                        else "slower" if ratio["low"] > 1 else "indistinguishable")
    return ratio


def chain_times(stage, final, num_exits: int, x: torch.Tensor, repeats: int, device, plain=None) -> list[float]:
    """Seconds a batch ``x`` takes when it leaves at exit k (stages 0..k run one after another, each a
    backbone segment and its head, no decision), for each k, and through every stage and the rest of the
    backbone (last entry). Timed as whole chains, as a sample meets them: a segment timed alone, its weights
    hot in the cache from the previous repeat, runs faster than inside the chain, which made the earlier
    per-segment prediction promise more than any router could deliver. ``plain``: each chain is timed in
    alternation with it, as the real skip is, so both see the cache the plain network leaves behind (timed
    back to back, an early chain kept its small weights in the cache and predicted 5-10 % more than a router
    alternating with the plain network can get)."""
    def upto(k: int):
        h = x
        for i in range(min(k, num_exits - 1) + 1):
            h = stage(i, h)[0]
        return final(h) if k == num_exits else h
    return [timed_pair(lambda k=k: upto(k), plain, repeats, device)[0] for k in range(num_exits + 1)]


def survivor_time(net, x: torch.Tensor, exits: torch.Tensor, plain, repeats: int, device) -> float:
    """Seconds of the stages alone at the batch sizes the survivors of ``x`` have (``exits``: where each sample
    leaves): the real skip's work with the decisions and the compaction taken away, so measured / this is the
    router's own cost. The stage-time prediction scales full-batch stage times by the share of samples, which
    a CPU cannot meet: a stage's time per image grows as its batch shrinks. Timed in alternation with ``plain``."""
    counts = [int((exits >= i).sum()) for i in range(net.num_exits + 1)]

    @torch.inference_mode()
    def ideal():
        h = x
        for i in range(net.num_exits):
            if counts[i] == 0:
                return
            h = net.stage(i, h[:counts[i]])[0]
        if counts[-1]:
            net.final(h[:counts[-1]])
    return timed_pair(ideal, plain, repeats, device)[0]


def percentiles(times: list[float]) -> list[float]:
    """p50, p95 and p99 of ``times``, in milliseconds (nearest rank)."""
    ordered = sorted(times)
    return [1e3 * ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] for q in (0.5, 0.95, 0.99)]


def one_by_one(plain, skip, xs: list[torch.Tensor], repeats: int, device) -> dict:
    """Each sample timed alone at batch 1, the plain network and the real skip in alternation on the same sample
    (after a warm-up pass): per-sample latency percentiles of both, and the median over repeats of the time for
    the whole set (the speed-up)."""
    for x in xs[:8]:
        plain(x), skip(x)
    per = {"plain": [], "skip": []}
    totals = {"plain": [], "skip": []}
    for _ in range(repeats):
        run = {"plain": 0.0, "skip": 0.0}
        for x in xs:
            for name, fn in (("plain", plain), ("skip", skip)):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                fn(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                per[name].append(time.perf_counter() - t)
                run[name] += per[name][-1]
        for name in run:
            totals[name].append(run[name])
    median = {k: middle(v) for k, v in totals.items()}
    return {"plain_time": median["plain"], "skip_time": median["skip"],
            "plain_ms": percentiles(per["plain"]), "skip_ms": percentiles(per["skip"])}


@torch.no_grad()
def mix_rows(net: EarlyExitNet, device: torch.device, batch: int, samples: int, repeats: int = 20,
             images: torch.Tensor | None = None, policies: dict[str, ExitPolicy] | None = None) -> list[dict]:
    """One row per exit policy: fractions, FLOP- and stage-time-predicted speed-ups, measured speed-up,
    and what a deployment engineer reads: per-sample p50/p95/p99 at batch 1, images per second otherwise.

    Default: random images, and for each of ``MIXES`` max-softmax thresholds set on 2048+ of
    them so the mix is met. ``images`` + ``policies``: a trained network's own test images
    and calibrated policy. The fractions and both predictions use the exits of exactly the
    images that are timed (the first ``batch``, or the first ``samples`` fed one by one at
    batch 1), so prediction and measurement see the same mix."""
    if images is None:
        images = random_images(DEFAULT_IMAGE, max(2048, batch, samples))
    if images.shape[0] < max(batch, samples):
        fail(f"{images.shape[0]} images but batch {batch} / --samples {samples} need more")
    cached = exit_outputs(net, images, device)
    net.to(device).eval()
    costs = exit_costs(net, tuple(images.shape[1:]))
    if policies is None:
        scores = cached.scores("max_softmax")
        policies = {name: ExitPolicy("max_softmax", thresholds_for_mix(scores, mix)) for name, mix in MIXES.items()}
    buckets = [b for b in BUCKETS if b <= batch] + ([batch] if batch not in BUCKETS else []) \
        if device.type == "cuda" else None
    if buckets:
        net.warmup(buckets, tuple(images.shape[1:]))
    timed_n = samples if batch == 1 else batch
    x_batch = images[:batch].to(device)
    xs = [images[i:i + 1].to(device) for i in range(samples)] if batch == 1 else None
    stages = chain_times(net.stage, net.final, net.num_exits, x_batch, 20 if batch == 1 else 5, device,
                         plain=lambda: net.backbone(x_batch))
    backbone_time = timed(lambda: net.backbone(x_batch), 20 if batch == 1 else 5, device)
    rows = []
    for name, policy in policies.items():
        _, ex = simulate(cached.scores(policy.score_kind), cached.head_pred, cached.backbone_pred,
                         policy.thresholds)
        frac = torch.bincount(ex[:timed_n].cpu(), minlength=net.num_exits + 1).double() / timed_n
        extra = {}
        if batch == 1:
            extra = one_by_one(net.backbone, lambda x, p=policy: net.infer(x, p), xs, 5, device)
            plain, skip = extra["plain_time"], extra["skip_time"]
        else:
            plain, skip = timed_pair(lambda: net.backbone(x_batch),
                                     lambda p=policy: net.infer(x_batch, p, buckets), repeats, device)
            ideal = survivor_time(net, x_batch, ex[:batch], lambda: net.backbone(x_batch), repeats, device)
            extra = {"plain_per_s": batch / plain, "skip_per_s": batch / skip, "survivor_pred": plain / ideal}
        stage_pred = backbone_time / float(sum(f * t for f, t in zip(frac.tolist(), stages)))
        rows.append({"device": device.type, "threads": torch.get_num_threads(), "batch": batch, "mix": name,
                     "fractions": frac.tolist(), "flop_pred": 1 / costs.expected(frac), "stage_pred": stage_pred,
                     "measured": plain / skip, **extra})
    return rows


@torch.no_grad()
def static_rows(net: EarlyExitNet, rows: list[dict], images: torch.Tensor, samples: int) -> list[dict]:
    """For each CPU mix row (batch 1 and the largest batch), the smaller plain network of the backbone's family
    closest to the early exit's expected MACs (``static_baseline.py``), timed against the full backbone the way
    the early exit is: its speed-up beside the early exit's, at about the same compute."""
    from static_baseline import closest, family
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
    of the backbone's family around the early exit's MACs, trained as the backbone was (``static_baseline.py``),
    on the checkpoint's own test split: test accuracy and MACs side by side."""
    from hydra.utils import instantiate
    from static_baseline import around, builders, family, macs_of, train_like_backbone, training_recipe

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
    on the same network, images and exit mix (``earlyon_peer.py``): each library's default heads, then earlyon's
    heads in both (equal head cost). The three are timed ``repeats`` rounds together, the order turning each round;
    each ratio comes with its interval over the rounds."""
    from earlyon_peer import earlyon_staged, peer_scores, policy_for, staged_with_thresholds, with_peer_heads
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


class Plain(torch.nn.Module):
    """The whole backbone as one graph (the plain network an early exit is compared against)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)


def onnx_nets(net: EarlyExitNet, policy, image_shape, folder: Path, threads: int):
    """``(early-exit stages run by onnxruntime, the plain backbone as one onnxruntime graph)``, each session with
    ``threads`` intra-op threads and eexit's other defaults (``eexit.deploy.onnx.session_options``)."""
    from eexit.deploy.export import ExportedExitNet, export_exit_net
    from eexit.deploy.onnx import OnnxStage, export_stage
    if not (folder / "ee" / "exits.json").is_file():
        export_exit_net(net, policy, folder / "ee", image_shape, fold=False, fmt="onnx")   # net is folded already
        export_stage(Plain(net.backbone).eval(), torch.zeros(2, *image_shape), folder / "plain.onnx", last=True)
    return ExportedExitNet(folder / "ee", threads=threads), OnnxStage(folder / "plain.onnx", threads=threads)


def onnx_rows(net: EarlyExitNet, batch: int, samples: int, images: torch.Tensor | None,
              policies: dict[str, ExitPolicy] | None, folder: Path) -> list[dict]:
    """``mix_rows`` with onnxruntime on the CPU at torch's thread count: the same images, mixes and predictions
    (the ONNX stages exit exactly like the torch ones; test), stage times and measurements from onnxruntime, and
    onnxruntime's real skip timed against torch's in alternation (``vs_torch`` > 1: onnxruntime is faster)."""
    cpu = torch.device("cpu")
    torch_rows = mix_rows(net, cpu, batch, samples, repeats=5, images=images, policies=policies)
    if images is None:
        images = random_images(DEFAULT_IMAGE, max(2048, batch, samples))
    if policies is None:
        cached = exit_outputs(net, images, cpu)
        scores = cached.scores("max_softmax")
        policies = {name: ExitPolicy("max_softmax", thresholds_for_mix(scores, mix)) for name, mix in MIXES.items()}
    ort_net, ort_plain = onnx_nets(net, next(iter(policies.values())), tuple(images.shape[1:]), folder,
                                   torch.get_num_threads())
    x_batch = images[:batch]
    xs = [images[i:i + 1] for i in range(samples)] if batch == 1 else None
    reps = 20 if batch == 1 else 5
    cum = chain_times(ort_net.stage, ort_net.final, ort_net.num_exits, x_batch, reps, cpu,
                      plain=lambda: ort_plain(x_batch))
    plain_time = timed(lambda: ort_plain(x_batch), reps, cpu)
    rows = []
    with torch.no_grad():
        for row, (name, policy) in zip(torch_rows, policies.items()):
            frac = row["fractions"]
            if batch == 1:
                extra = one_by_one(ort_plain, lambda x, p=policy: ort_net.infer(x, p), xs, 5, cpu)
                plain, skip = extra["plain_time"], extra["skip_time"]
                torch_skip, ort_skip = timed_pair(lambda p=policy: [net.infer(x, p) for x in xs],
                                                  lambda p=policy: [ort_net.infer(x, p) for x in xs], 5, cpu)
            else:
                plain, skip = timed_pair(lambda: ort_plain(x_batch), lambda p=policy: ort_net.infer(x_batch, p), 10, cpu)
                extra = {"plain_per_s": batch / plain, "skip_per_s": batch / skip}
                torch_skip, ort_skip = timed_pair(lambda p=policy: net.infer(x_batch, p),
                                                  lambda p=policy: ort_net.infer(x_batch, p), 10, cpu)
            row = {k: v for k, v in row.items() if k != "survivor_pred"}   # torch's; onnxruntime's is not timed
            rows.append({**row, **extra, "device": "cpu (onnxruntime)", "measured": plain / skip,
                         "vs_torch": torch_skip / ort_skip,
                         "stage_pred": plain_time / float(sum(f * t for f, t in zip(frac, cum)))})
    return rows


def checkpoint_images(data_cfg: dict, count: int) -> tuple[torch.Tensor, str]:
    """The first ``count`` normalised test images of the run's dataset (as evaluation sees them)
    and the dataset's name."""
    from hydra.utils import instantiate
    dm = instantiate(data_cfg)
    chunks, have = [], 0
    for x, _ in dm.loader("test"):
        chunks.append(x.cpu())
        have += x.shape[0]
        if have >= count:
            break
    return torch.cat(chunks)[:count], dm.name


def table(rows: list[dict]) -> list[str]:
    """Speed-ups against both predictions, then latency (batch 1: per-sample p50/p95/p99 in ms, early exit and
    plain) or throughput (images per second), and onnxruntime's real skip against torch's."""
    out = ["| runtime | threads | batch | mix | exit % | FLOP-predicted | stage-time-predicted | measured | "
           "measured / FLOP | measured / stage | measured / stages at survivor batch | early exit p50/p95/p99 ms or "
           "img/s | plain p50/p95/p99 ms or img/s | onnxruntime skip vs torch skip |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sp, m = r["stage_pred"], r["measured"]
        mix = "—" if r["fractions"] is None else "/".join(f"{100 * f:.0f}" for f in r["fractions"])
        stage = "—" if sp is None else f"{sp:.2f}x"
        stage_ratio = "—" if sp is None else f"{m / sp:.2f}"
        if "skip_ms" in r:
            ee, plain = ("/".join(f"{v:.2f}" for v in r[k]) for k in ("skip_ms", "plain_ms"))
        elif "skip_per_s" in r:
            ee, plain = f"{r['skip_per_s']:.0f}/s", f"{r['plain_per_s']:.0f}/s"
        else:
            ee = plain = "—"
        vs = f"{r['vs_torch']:.2f}x" if "vs_torch" in r else "—"
        survivor = f"{m / r['survivor_pred']:.2f}" if "survivor_pred" in r else "—"
        out.append(f"| {r['device']} | {r.get('threads', '—')} | {r['batch']} | {r['mix']} | {mix} | "
                   f"{r['flop_pred']:.2f}x | {stage} | {m:.2f}x | {m / r['flop_pred']:.2f} | {stage_ratio} | "
                   f"{survivor} | {ee} | {plain} | {vs} |")
    return out


def results_file(name: str, record: bool) -> Path:
    """``benchmarks/<name>`` (tracked) with ``--record``, else ``benchmarks/local/<name>`` (git-ignored)."""
    folder = Path(__file__).parent / ("" if record else "local")
    folder.mkdir(exist_ok=True)
    return folder / name


def environment() -> str:
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (f"{platform.machine()} CPU, {torch.get_num_threads()} threads{gpu}; torch {torch.__version__}; "
            f"Python {platform.python_version()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--head", default="conv1d")
    ap.add_argument("--rule", default="linear")
    ap.add_argument("--exits", type=int, default=3)
    ap.add_argument("--image-size", type=int, default=32, help="random images of this height and width")
    ap.add_argument("--checkpoint", help="a run's checkpoints/<regime>.pt: time that trained network and its "
                                         "calibrated policy on the run's test images instead")
    ap.add_argument("--samples", type=int, default=64, help="samples timed one by one at batch 1")
    ap.add_argument("--no-fold", action="store_true", help="keep BatchNorm unfolded (training form)")
    ap.add_argument("--record", action="store_true", help="append to the tracked benchmarks/RESULTS-latency.md")
    ap.add_argument("--out", help="append to this file instead")
    ap.add_argument("--static", action="store_true", help="also time the smaller plain networks of the backbone's "
                                                          "family at the early exit's MACs (static_baseline.py); with "
                                                          "--checkpoint also train the two around it like the backbone "
                                                          "and compare test accuracy")
    ap.add_argument("--peer", action="store_true", help="also time earlyon's staged runtime on the same network "
                                                        "and mix (needs the peers extra: earlyon)")
    ap.add_argument("--threads", default="1,all", help="CPU thread counts to time, e.g. 1,all (default), 1 or 4")
    ap.add_argument("--runtime", default="torch", help="torch, onnxruntime, or both (torch,onnxruntime): "
                                                       "onnxruntime runs the ONNX export on the CPU; none: only "
                                                       "the --peer and --static extras")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = False  # changing survivor shapes: never autotune per shape
    from eexit.training import quiet_lightning
    quiet_lightning()
    gpu = torch.cuda.is_available()
    if args.checkpoint:
        try:
            ck = load_exit_checkpoint(args.checkpoint)
        except EExitError as exc:
            fail(str(exc))
        images, dataset = checkpoint_images(ck.data, max(64, args.samples, 1024 if gpu else 0))
        net, policies = ck.net, {f"{Path(args.checkpoint).stem} ({ck.policy.score_kind})": ck.policy}
        what = f"--checkpoint {args.checkpoint}"
        described = (f"{ck.meta['backbone']} + {len(ck.meta['attach'])} {type(ck.net.heads[0]).kind} heads, "
                     f"{dataset} test images ({args.samples} timed one by one at batch 1)")
    else:
        net = build_net(args.backbone, args.head, args.rule, args.exits, fold=False,
                        image_shape=(3, args.image_size, args.image_size))
        images, policies = random_images((3, args.image_size, args.image_size), max(2048, args.samples)), None
        what = (f"--backbone {args.backbone} --head {args.head} --rule {args.rule} --exits {args.exits} "
                f"--image-size {args.image_size}")
        described = f"random weights and {args.image_size}x{args.image_size} images"
    if not args.no_fold:
        net = fold_batchnorm(net)[0]
    n_images = 2048 if images is None else images.shape[0]
    batches = [b for b in (1, 32, 64) if b <= n_images]
    settings = [("cpu", b) for b in batches] + ([("cuda", min(1024, n_images))] if gpu else [])
    runtimes = [] if args.runtime == "none" else args.runtime.split(",")
    if not set(runtimes) <= {"torch", "onnxruntime"}:
        fail(f"--runtime takes torch and/or onnxruntime, or none, got {args.runtime}")
    if not runtimes and not (args.peer or args.static):
        fail("--runtime none times nothing by itself: add --peer (earlyon) or --static (smaller networks)")
    all_threads = torch.get_num_threads()
    thread_counts = sorted({1, all_threads} if args.threads == "1,all" else
                           {all_threads if t == "all" else int(t) for t in args.threads.split(",")})
    rows, peers = [], []
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for threads in thread_counts:   # the CUDA rows once, with the CPU's full count
            torch.set_num_threads(threads)
            torch_rows = [r for dev, b in settings if "torch" in runtimes and (dev == "cpu" or threads == all_threads)
                          for r in mix_rows(net, torch.device(dev), b, min(args.samples, n_images), images=images,
                                            policies=policies)]
            rows += torch_rows
            if args.static:
                rows += static_rows(net, [r for r in torch_rows if r["batch"] in (1, batches[-1])],
                                    images, min(args.samples, n_images))
            if args.peer:
                peers += peer_rows(net, images, min(args.samples, n_images))
            if "onnxruntime" in runtimes:
                rows += [r for b in batches
                         for r in onnx_rows(net, b, min(args.samples, n_images), images, policies, Path(tmp))]
        torch.set_num_threads(all_threads)
    accuracy = static_accuracy(ck, next(iter(policies.values()))) if args.static and args.checkpoint else []
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/latency.py {what} --samples {args.samples}"
             f"{' --no-fold' if args.no_fold else ''}{' --runtime ' + args.runtime if args.runtime != 'torch' else ''}{' --static' if args.static else ''}{' --peer' if args.peer else ''}{'' if args.threads == '1,all' else ' --threads ' + args.threads}`", "",
             f"{environment()}; fp32 on CPU; {described}; attach blocks {net.attach}; "
             f"BatchNorm {'unfolded' if args.no_fold else 'folded into the convolutions'}.", ""] + (table(rows) if rows else []) \
        + (["", "earlyon 0.3.0's staged runtime on the same network, images and mix, batch 1, timed in alternation:",
            ""] + peer_table(peers) if peers else []) + accuracy
    print("\n".join(lines))
    out = Path(args.out) if args.out else results_file("RESULTS-latency.md", args.record)
    with open(out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
