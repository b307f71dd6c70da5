"""What an operating point saves in *time* on the run's own device, beside the MACs it saves.

The deployed real skip (``infer``, exited samples dropped from the batch) is timed against the plain backbone on
the same test images, in alternation, so both see the same drift of a shared machine: at batch 1, each image
alone, and as one batch of all of them. The saving is 1 − the median of the paired ratios (real skip / plain, the
same image or batch in the same round): a pair shares its moment's load, so a busy machine moves both and the
ratio far less than either time (medians of the two times, taken apart, moved by ±50 % under load here). Latencies
are reported as median and p95. A few dozen images and rounds: it is part of every run, so it costs seconds.
"""
from __future__ import annotations

import statistics

import torch

from eexit.deploy.timing import percentiles, timed_together


@torch.inference_mode()
def time_saving(net, policy, images: torch.Tensor, device: torch.device, rounds_one: int = 2,
                rounds_batch: int = 7) -> dict:
    """``{"images", "device", "threads", "batch_1": {...}, "batch": {...}}``; each of the two: ``saving`` (1 − the
    median paired ratio of real skip to plain backbone; 0: no gain, negative: the heads cost more than the exits
    save), ``p50_ms``, ``p95_ms`` (per image at batch 1, per batch otherwise) and the plain backbone's
    ``plain_p50_ms``, ``plain_p95_ms``; ``batch`` also its ``size``."""
    net = net.to(device).eval()
    xs = [images[i:i + 1].to(device) for i in range(images.shape[0])]
    for x in xs[:4]:   # warm-up: both paths, a few images
        net.backbone(x), net.infer(x, policy)
    plain_one, skip_one = [], []
    for x in xs:   # each image alone, both paths in alternation
        p, s = timed_together([lambda: net.backbone(x), lambda: net.infer(x, policy)], rounds_one, device, warmup=0)
        plain_one += p
        skip_one += s
    xb = images.to(device)
    plain, skip = timed_together([lambda: net.backbone(xb), lambda: net.infer(xb, policy)], rounds_batch, device)
    return {"images": len(xs), "device": device.type, "threads": torch.get_num_threads(),
            "batch_1": summary(plain_one, skip_one), "batch": {"size": len(xs), **summary(plain, skip)}}


def summary(plain: list[float], skip: list[float]) -> dict:
    p_plain, p_skip = percentiles(plain), percentiles(skip)
    return {"saving": 1 - statistics.median(s / p for s, p in zip(skip, plain)), "p50_ms": p_skip[0],
            "p95_ms": p_skip[1], "plain_p50_ms": p_plain[0], "plain_p95_ms": p_plain[1]}
