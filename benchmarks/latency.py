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
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eexit.costs import exit_costs  # noqa: E402
from eexit.deploy import load_exit_checkpoint  # noqa: E402
from eexit.errors import EExitError  # noqa: E402
from eexit.evaluation import simulate  # noqa: E402
from eexit.exits import ExitPolicy  # noqa: E402
from eexit.flops import block_macs, cumulative  # noqa: E402
from eexit.models.backbones import build_backbone  # noqa: E402
from eexit.models.early_exit import EarlyExitNet  # noqa: E402
from eexit.models.fold import fold_batchnorm  # noqa: E402
from eexit.models.heads import build_head  # noqa: E402
from eexit.placement import place_by_rule  # noqa: E402
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


def timed(fn, repeats: int, device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls, after warm-up."""
    return timed_pair(fn, None, repeats, device)[0]


def timed_pair(fn_a, fn_b, repeats: int, device) -> tuple[float, float | None]:
    """Median seconds of ``fn_a()`` and ``fn_b()`` timed in alternation, after warm-up.

    Alternating the two calls exposes both to the same drift of a shared or throttled
    machine, so their ratio is steadier than that of two separate timing runs."""
    fns = [f for f in (fn_a, fn_b) if f is not None]
    for _ in range(3):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            bucket.append(time.perf_counter() - t)
    medians = [sorted(ts)[len(ts) // 2] for ts in times]
    return medians[0], (medians[1] if fn_b is not None else None)


@torch.no_grad()
def stage_times(net: EarlyExitNet, x: torch.Tensor, repeats: int) -> tuple[list[float], float]:
    """Seconds to reach each exit on the batch ``x`` (segments and heads up to it; final = all),
    and the backbone alone (every segment, no head)."""
    device = x.device
    feats = [x]
    for start, end in net.segments():
        feats.append(net.backbone(feats[-1], start, end))
    seg = [timed(lambda s=s, e=e, f=f: net.backbone(f, s, e), repeats, device)
           for (s, e), f in zip(net.segments(), feats[:-1])]
    head = [timed(lambda h=h, f=f: h(f), repeats, device) for h, f in zip(net.heads, feats[1:-1])]
    cum, total = [], 0.0
    for k in range(net.num_exits):
        total += seg[k] + head[k]
        cum.append(total)
    cum.append(total + seg[-1])
    return cum, sum(seg)


@torch.no_grad()
def mix_rows(net: EarlyExitNet, device: torch.device, batch: int, samples: int, repeats: int = 20,
             images: torch.Tensor | None = None, policies: dict[str, ExitPolicy] | None = None) -> list[dict]:
    """One row per exit policy: fractions, FLOP- and stage-time-predicted speed-ups, measured speed-up.

    Default: random images, and for each of ``MIXES`` max-softmax thresholds set on 2048+ of
    them so the mix is met. ``images`` + ``policies``: a trained network's own test images
    and calibrated policy. The fractions and both predictions use the exits of exactly the
    images that are timed (the first ``batch``, or the first ``samples`` fed one by one at
    batch 1), so prediction and measurement see the same mix."""
    if images is None:
        images = random_images(DEFAULT_IMAGE, max(2048, batch, samples))
    if images.shape[0] < max(batch, samples):
        raise SystemExit(f"error: {images.shape[0]} images but batch {batch} / --samples {samples} need more")
    cached = predict_exits(net, [(images[i:i + 512], torch.zeros(min(512, images.shape[0] - i), dtype=torch.long))
                                 for i in range(0, images.shape[0], 512)], accelerator=device.type)
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
    stages, backbone_time = stage_times(net, x_batch, 20 if batch == 1 else 5)
    rows = []
    for name, policy in policies.items():
        _, ex = simulate(cached.scores(policy.score_kind), cached.head_pred, cached.backbone_pred,
                         policy.thresholds)
        frac = torch.bincount(ex[:timed_n].cpu(), minlength=net.num_exits + 1).double() / timed_n
        if batch == 1:
            plain, skip = timed_pair(lambda: [net.backbone(x) for x in xs],
                                     lambda p=policy: [net.infer(x, p) for x in xs], 5, device)
        else:
            plain, skip = timed_pair(lambda: net.backbone(x_batch),
                                     lambda p=policy: net.infer(x_batch, p, buckets), repeats, device)
        stage_pred = backbone_time / float(sum(f * t for f, t in zip(frac.tolist(), stages)))
        rows.append({"device": device.type, "batch": batch, "mix": name, "fractions": frac.tolist(),
                     "flop_pred": 1 / costs.expected(frac), "stage_pred": stage_pred, "measured": plain / skip})
    return rows


class Plain(torch.nn.Module):
    """The whole backbone as one graph (the plain network an early exit is compared against)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)


def onnx_nets(net: EarlyExitNet, policy, image_shape, folder: Path):
    """``(early-exit stages run by onnxruntime, the plain backbone as one onnxruntime graph)``."""
    from eexit.export import ExportedExitNet, export_exit_net
    from eexit.export_onnx import OnnxStage, export_stage
    export_exit_net(net, policy, folder / "ee", image_shape, fold=False, fmt="onnx")   # net is folded already
    export_stage(Plain(net.backbone).eval(), torch.zeros(2, *image_shape), folder / "plain.onnx", last=True)
    return ExportedExitNet(folder / "ee"), OnnxStage(folder / "plain.onnx")


def onnx_rows(net: EarlyExitNet, batch: int, samples: int, images: torch.Tensor | None,
              policies: dict[str, ExitPolicy] | None, folder: Path) -> list[dict]:
    """``mix_rows`` with onnxruntime on the CPU: the same images, mixes and predictions (the ONNX
    stages exit exactly like the torch ones; test), stage times and measurements from onnxruntime."""
    torch_rows = mix_rows(net, torch.device("cpu"), batch, samples, repeats=5, images=images, policies=policies)
    if images is None:
        images = random_images(DEFAULT_IMAGE, max(2048, batch, samples))
    if policies is None:
        cached = predict_exits(net, [(images[i:i + 512], torch.zeros(min(512, images.shape[0] - i), dtype=torch.long))
                                     for i in range(0, images.shape[0], 512)], accelerator="cpu")
        scores = cached.scores("max_softmax")
        policies = {name: ExitPolicy("max_softmax", thresholds_for_mix(scores, mix)) for name, mix in MIXES.items()}
    ort_net, ort_plain = onnx_nets(net, next(iter(policies.values())), tuple(images.shape[1:]), folder)
    x_batch = images[:batch]
    xs = [images[i:i + 1] for i in range(samples)] if batch == 1 else None
    feats, cum, total = x_batch, [], 0.0
    for i in range(ort_net.num_exits):
        total += timed(lambda f=feats, i=i: ort_net.stage(i, f), 20 if batch == 1 else 5, torch.device("cpu"))
        cum.append(total)
        feats = ort_net.stage(i, feats)[0]
    cum.append(total + timed(lambda f=feats: ort_net.final(f), 20 if batch == 1 else 5, torch.device("cpu")))
    plain_time = timed(lambda: ort_plain(x_batch), 20 if batch == 1 else 5, torch.device("cpu"))
    rows = []
    for row, (name, policy) in zip(torch_rows, policies.items()):
        frac = row["fractions"]
        if batch == 1:
            plain, skip = timed_pair(lambda: [ort_plain(x) for x in xs],
                                     lambda p=policy: [ort_net.infer(x, p) for x in xs], 5, torch.device("cpu"))
        else:
            plain, skip = timed_pair(lambda: ort_plain(x_batch), lambda p=policy: ort_net.infer(x_batch, p), 20,
                                     torch.device("cpu"))
        rows.append({**row, "device": "cpu (onnxruntime)", "measured": plain / skip,
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
    out = ["| device | batch | mix | exit % | FLOP-predicted | stage-time-predicted | measured | measured / FLOP | measured / stage |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sp, m = r["stage_pred"], r["measured"]
        mix = "/".join(f"{100 * f:.0f}" for f in r["fractions"])
        stage = "—" if sp is None else f"{sp:.2f}x"
        stage_ratio = "—" if sp is None else f"{m / sp:.2f}"
        out.append(f"| {r['device']} | {r['batch']} | {r['mix']} | {mix} | {r['flop_pred']:.2f}x | {stage} | "
                   f"{m:.2f}x | {m / r['flop_pred']:.2f} | {stage_ratio} |")
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
    ap.add_argument("--runtime", default="torch", help="torch, onnxruntime, or both (torch,onnxruntime): "
                                                       "onnxruntime runs the ONNX export on the CPU")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = False  # changing survivor shapes: never autotune per shape
    from eexit.training import quiet_lightning
    quiet_lightning()
    gpu = torch.cuda.is_available()
    if args.checkpoint:
        try:
            ck = load_exit_checkpoint(args.checkpoint)
        except EExitError as exc:
            raise SystemExit(f"error: {exc}") from None
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
    settings = [("cpu", 1), ("cpu", min(64, n_images))] + ([("cuda", min(1024, n_images))] if gpu else [])
    runtimes = args.runtime.split(",")
    if not set(runtimes) <= {"torch", "onnxruntime"}:
        raise SystemExit(f"error: --runtime takes torch and/or onnxruntime, got {args.runtime}")
    rows = [r for dev, b in settings if "torch" in runtimes
            for r in mix_rows(net, torch.device(dev), b, min(args.samples, n_images), images=images, policies=policies)]
    if "onnxruntime" in runtimes:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            rows += [r for b in (1, min(64, n_images))
                     for r in onnx_rows(net, b, min(args.samples, n_images), images, policies, Path(tmp) / str(b))]
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/latency.py {what} --samples {args.samples}"
             f"{' --no-fold' if args.no_fold else ''}{' --runtime ' + args.runtime if args.runtime != 'torch' else ''}`", "",
             f"{environment()}; fp32 on CPU; {described}; attach blocks {net.attach}; "
             f"BatchNorm {'unfolded' if args.no_fold else 'folded into the convolutions'}.", ""] + table(rows)
    print("\n".join(lines))
    out = Path(args.out) if args.out else results_file("RESULTS-latency.md", args.record)
    with open(out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
