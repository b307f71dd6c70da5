"""The exported network under onnxruntime, timed like the torch one (plain and real skip, one thread or more)."""
from __future__ import annotations

from pathlib import Path

import torch

from eexit.bench.networks import DEFAULT_IMAGE, MIXES, Plain, exit_outputs, random_images, thresholds_for_mix
from eexit.bench.real_skip import chain_times, mix_rows
from eexit.deploy.timing import one_by_one, timed, timed_pair
from eexit.exits import ExitPolicy
from eexit.models.early_exit import EarlyExitNet


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
