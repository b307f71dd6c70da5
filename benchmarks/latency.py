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

The defaults (all threads, batches 1 and 64, torch, 32 images at batch 1, 8 rounds) take minutes on 2 cores, say on
stderr what they time as they go, and stop on SIGTERM (exit 143). The long comparisons stay behind options:
``--threads 1,all``, ``--batches 1,32,64``, ``--samples 64 --repeats 20``, ``--runtime torch,onnxruntime``,
``--peer`` (earlyon), ``--static``.

    python benchmarks/latency.py --checkpoint outputs/<date>/<time>/checkpoints/boosted.pt

times a trained network instead: its calibrated policy on its run's own test images.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # a checkout's eexit, even when not installed

from eexit.bench.baselines import peer_rows, peer_table, static_accuracy, static_rows  # noqa: E402
from eexit.bench.networks import build_net, checkpoint_images, random_images  # noqa: E402
from eexit.bench.onnx import onnx_rows  # noqa: E402
from eexit.bench.real_skip import mix_rows, table  # noqa: E402
from eexit.bench.records import environment, results_file  # noqa: E402
from eexit.deploy.checkpoint import load_exit_checkpoint  # noqa: E402
from eexit.errors import EExitError  # noqa: E402
from eexit.models.fold import fold_batchnorm  # noqa: E402


START = time.perf_counter()


def progress(what: str) -> None:
    """One line on stderr as each part starts, with the seconds so far (a run of minutes says where it is)."""
    print(f"[{time.perf_counter() - START:5.0f} s] timing {what}", file=sys.stderr, flush=True)


def stop_on_sigterm() -> None:
    """``timeout``'s or a scheduler's SIGTERM ends the run (exit status 143). Lightning's trainer, which computes
    the exits' outputs, installs a SIGTERM handler of its own while it runs that only logs; it calls an earlier
    handler too, so this one still stops the benchmark."""
    def stop(signum, frame):
        print("stopped by SIGTERM", file=sys.stderr, flush=True)
        sys.exit(143)
    signal.signal(signal.SIGTERM, stop)


def fail(message: str) -> None:
    """Bad input: one line on stderr, exit status 2, before any timing."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--head", default="conv1d")
    ap.add_argument("--rule", default="linear")
    ap.add_argument("--exits", type=int, default=3)
    ap.add_argument("--image-size", type=int, default=32, help="random images of this height and width")
    ap.add_argument("--checkpoint", help="a run's checkpoints/<regime>.pt: time that trained network and its "
                                         "calibrated policy on the run's test images instead")
    ap.add_argument("--samples", type=int, default=32, help="samples timed one by one at batch 1")
    ap.add_argument("--repeats", type=int, default=8, help="rounds of each timed pair (20: the long comparison); "
                                                         "batch 1 times every sample max(3, repeats / 3) times")
    ap.add_argument("--no-fold", action="store_true", help="keep BatchNorm unfolded (training form)")
    ap.add_argument("--record", action="store_true", help="append to the tracked benchmarks/RESULTS-latency.md")
    ap.add_argument("--out", help="append to this file instead")
    ap.add_argument("--static", action="store_true", help="also time the smaller plain networks of the backbone's "
                                                          "family at the early exit's MACs (static_baseline.py); with "
                                                          "--checkpoint also train the two around it like the backbone "
                                                          "and compare test accuracy")
    ap.add_argument("--peer", action="store_true", help="also time earlyon's staged runtime on the same network "
                                                        "and mix (needs the peers extra: earlyon)")
    ap.add_argument("--threads", default="all", help="CPU thread counts to time: all (default), or e.g. 1,all or 4")
    ap.add_argument("--batches", default="1,64", help="CPU batch sizes to time (default 1,64; e.g. 1,32,64)")
    ap.add_argument("--runtime", default="torch", help="torch, onnxruntime, or both (torch,onnxruntime): "
                                                       "onnxruntime runs the ONNX export on the CPU; none: only "
                                                       "the --peer and --static extras")
    args = ap.parse_args()
    stop_on_sigterm()
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
        images, policies = random_images((3, args.image_size, args.image_size), max(1024, args.samples)), None
        what = (f"--backbone {args.backbone} --head {args.head} --rule {args.rule} --exits {args.exits} "
                f"--image-size {args.image_size}")
        described = f"random weights and {args.image_size}x{args.image_size} images"
    if not args.no_fold:
        net = fold_batchnorm(net)[0]
    n_images = images.shape[0]
    try:
        batches = [b for b in sorted({int(b) for b in args.batches.split(",")}) if b <= n_images]
    except ValueError:
        fail(f"--batches takes batch sizes separated by commas, e.g. 1,64, got {args.batches}")
    settings = [("cpu", b) for b in batches] + ([("cuda", min(1024, n_images))] if gpu else [])
    runtimes = [] if args.runtime == "none" else args.runtime.split(",")
    if not set(runtimes) <= {"torch", "onnxruntime"}:
        fail(f"--runtime takes torch and/or onnxruntime, or none, got {args.runtime}")
    if not runtimes and not (args.peer or args.static):
        fail("--runtime none times nothing by itself: add --peer (earlyon) or --static (smaller networks)")
    all_threads = torch.get_num_threads()
    try:
        thread_counts = sorted({all_threads if t == "all" else int(t) for t in args.threads.split(",")})
    except ValueError:
        fail(f"--threads takes thread counts or 'all' separated by commas, e.g. 1,all, got {args.threads}")
    rows, peers = [], []
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for threads in thread_counts:   # the CUDA rows once, with the CPU's full count
            torch.set_num_threads(threads)
            torch_rows = []
            for dev, b in settings if "torch" in runtimes else []:
                if dev == "cpu" or threads == all_threads:
                    progress(f"torch, {dev}, {threads} thread(s), batch {b}")
                    torch_rows += mix_rows(net, torch.device(dev), b, min(args.samples, n_images), args.repeats,
                                           max(3, args.repeats // 3), images=images, policies=policies)
            rows += torch_rows
            if args.static:
                progress(f"smaller plain networks, {threads} thread(s)")
                rows += static_rows(net, [r for r in torch_rows if r["batch"] in (1, batches[-1])],
                                    images, min(args.samples, n_images))
            if args.peer:
                progress(f"earlyon, {threads} thread(s), batch 1")
                peers += peer_rows(net, images, min(args.samples, n_images))
            if "onnxruntime" in runtimes:
                for b in batches:
                    progress(f"onnxruntime, {threads} thread(s), batch {b}")
                    rows += onnx_rows(net, b, min(args.samples, n_images), images, policies, Path(tmp))
        torch.set_num_threads(all_threads)
    accuracy = static_accuracy(ck, next(iter(policies.values()))) if args.static and args.checkpoint else []
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — `python benchmarks/latency.py {what} --samples {args.samples} --repeats {args.repeats}"
             f"{' --no-fold' if args.no_fold else ''}{' --runtime ' + args.runtime if args.runtime != 'torch' else ''}{' --static' if args.static else ''}{' --peer' if args.peer else ''}{'' if args.threads == 'all' else ' --threads ' + args.threads}{'' if args.batches == '1,64' else ' --batches ' + args.batches}`", "",
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
    try:
        main()
    except EExitError as exc:   # a library refusal (too few images for the batch asked): one line, exit 2
        fail(str(exc))
