"""A plan before any work: what a run will hold (disk, host and GPU memory) and how long it should take.

Made from the data's counts (``planned_sizes``: nothing decoded where files can be counted), an
untrained copy of the backbone (block output shapes, MACs, placement), the heads (what each reads:
``input_reduction``) and rates measured here and now on the run's device: the backbone's forward
throughput and one training step of the heads on features of the stored shape (measured once per
process and shape). Every run logs it first; ``plan=true`` writes ``plan.json`` and stops; a run
that would not fit its disk or memory stops in one line before any training (``fits.py``).
"""
from __future__ import annotations

import math
import os
import time

import torch
from hydra.utils import instantiate

from eexit.costs.placement import attach_points
from eexit.data.feature_store import block_name
from eexit.models.early_exit import build_exit_net
from eexit.models.heads import input_reduction
from eexit.pipeline.build import built

SPLITS = ("train", "val", "test")


def timed(step, repeats: int = 2) -> float:
    """Seconds per call of ``step`` after one warm-up call."""
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


RATES: dict[tuple, float] = {}   # measured once per process (the jobs of an in-process sweep share them)


def forward_rate(backbone, image_shape, batch: int = 256) -> float:
    """Images per second through the whole backbone (eval, inference mode), on its device, at the batch
    extraction uses (capped at 256: on this project's 2-core CPU ResNet18 runs 227 images/s at batch 64
    but 156 at 256 and 152 at 512, so a small batch would promise a faster extraction than happens)."""
    device = next(backbone.parameters()).device
    key = (getattr(backbone, "arch", type(backbone).__name__), str(device), tuple(image_shape), batch)
    if key not in RATES:
        x = torch.randn(batch, *image_shape, device=device)
        with torch.inference_mode():
            RATES[key] = batch / timed(lambda: backbone.eval()(x), repeats=1)
    return RATES[key]


def timing_batch(image_shape, eval_batch: int) -> int:
    """The batch the forward rate is timed at: the extraction batch, at most 256 images of 32x32 worth of
    pixels (a 224x224 ResNet50 on a CPU would otherwise spend many seconds of every run being timed)."""
    return max(1, min(eval_batch, 256, 256 * 32 * 32 // math.prod(image_shape[1:])))


def head_step_seconds(net, shapes: list[tuple], batch: int, dtype: torch.dtype) -> float:
    """One training step of every head on a batch of stored features: gather from a stored-dtype
    tensor, to float32, forward, backward, Adam. Measured once per process for each set of heads (their
    layers, as printed), input shapes, batch, dtype and device: the jobs of a bts64 sweep share 16."""
    device = next(net.parameters()).device
    key = ("heads", repr(net.heads), tuple(map(tuple, shapes)), batch, str(dtype), str(device))
    if key not in RATES:
        RATES[key] = _head_step(net, shapes, batch, dtype, device)
    return RATES[key]


def _head_step(net, shapes, batch, dtype, device) -> float:
    store = [torch.randn(batch * 2, *s).to(dtype).to(device) for s in shapes]
    idx = torch.randperm(batch * 2, device=device)[:batch]
    opt = torch.optim.Adam(net.heads.parameters(), lr=1e-3)
    net.heads.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = sum(h(f.index_select(0, idx).float()).logits.logsumexp(1).mean() for h, f in zip(net.heads, store))
        loss.backward()
        opt.step()
    return timed(step)


def plan_run(cfg, dm, device, work=None) -> dict:
    """``work``: the method's :class:`~eexit.methods.Workload` (default: its recipe's, instantiated from ``cfg``)."""
    work = work or instantiate(cfg.method).workload()
    sizes, image_shape, counted_from = dm.planned_sizes()
    n_all, n_train = sum(sizes.values()), sizes["train"]
    extra = {"weights": None, **({"pretrained": False} if "pretrained" in cfg.backbone else {})}
    backbone = built("backbone", lambda: instantiate(cfg.backbone, num_classes=dm.num_classes, **extra)).to(device)
    shapes = backbone.feature_shapes(tuple(image_shape))
    rate = forward_rate(backbone, image_shape, timing_batch(image_shape, int(dm.eval_batch_size)))
    streaming = bool(getattr(dm, "streaming", False))
    store = work.frozen and (work.feature_cache is True or (work.feature_cache == "auto" and not streaming))
    bytes_el = 2 if work.feature_dtype == "bfloat16" else 4
    blocks, step = [], 0.0
    if work.heads:
        attach = attach_points(cfg.placement, backbone, image_shape)
        net = built("head", lambda: build_exit_net(backbone, attach, instantiate(cfg.head), dm.num_classes,
                                                  tuple(image_shape))).to(device)   # the heads check their options
        for b, head in zip(attach, net.heads):
            size = input_reduction(head)
            c, h, w = shapes[b]
            stored = (c, *(size or (h, w)))
            blocks.append({"block": b, "name": block_name(b, size),
                           "shape": list(stored), "bytes_per_image": math.prod(stored) * bytes_el})
        step = head_step_seconds(net, [tuple(x["shape"]) for x in blocks], work.batch_size,
                                 torch.bfloat16 if bytes_el == 2 else torch.float32)
    per_image = sum(x["bytes_per_image"] for x in blocks) + 4 * dm.num_classes + 8
    store_bytes = per_image * n_all if store else 0
    params = sum(t.numel() * t.element_size() for t in backbone.state_dict().values())
    images = 0 if streaming else n_all * math.prod(image_shape)
    # an eval batch in flight: a residual block holds about 5 maps of its output's size (input, two convs,
    # their normalised outputs); measured on CIFAR ResNet18 (benchmarks/rehearsal.py)
    batch_act = int(dm.eval_batch_size) * max(math.prod(s) for s in shapes) * 4 * 5
    seconds = {"backbone": int(cfg.pretrain.epochs) * n_train * 3 / rate if not cfg.backbone.get("weights") else 0.0,
               "features": n_all / rate if store else 0.0,
               "heads": work.head_epochs * math.ceil(n_train / work.batch_size) * step,
               "joint": work.joint_epochs * n_train * 3 / rate,
               "evaluation": 3 * (sizes["val"] + sizes["test"]) / rate}
    on_gpu = device.type == "cuda"
    return {"images": sizes, "image_shape": list(image_shape), "counts_from": counted_from, "device": str(device),
            "backbone": getattr(backbone, "arch", type(backbone).__name__),
            "store": store, "dtype": "bfloat16" if bytes_el == 2 else "float32", "blocks": blocks,
            "store_bytes": store_bytes, "disk_bytes": store_bytes + params,
            # the peak of two phases that never overlap: extraction (an eval batch in flight) and training +
            # evaluation (on a CPU the job's stored features mapped and read)
            "host_bytes": process_bytes() + images + params + max(batch_act, 0 if on_gpu else store_bytes),
            "gpu_bytes": (images + batch_act + params) if on_gpu else 0,
            "batch_bytes": batch_act, "rates": {"backbone_images_per_s": rate, "head_step_s": step},
            "seconds_by_phase": seconds, "seconds": sum(seconds.values())}


def process_bytes() -> int:
    """This process's resident memory now (Python, torch, the libraries): the base every run adds to."""
    try:
        return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def plan_text(plan: dict) -> str:
    """The plan in one line."""
    mb, s = 1e6, plan["seconds_by_phase"]
    blocks = ", ".join(f"{b['name']} {b['bytes_per_image'] / 1e3:.1f} kB/image" for b in plan["blocks"]) or "none"
    return (f"plan: {'/'.join(str(plan['images'][k]) for k in SPLITS)} train/val/test images ({plan['counts_from']}); "
            f"stored features: {blocks} ({plan['dtype']}{'' if plan['store'] else ', not stored'}); disk "
            f"{plan['disk_bytes'] / mb:.1f} MB, host memory {plan['host_bytes'] / mb:.1f} MB, GPU memory "
            f"{plan['gpu_bytes'] / mb:.1f} MB; about {plan['seconds']:.0f} s (" +
            ", ".join(f"{k} {v:.0f} s" for k, v in s.items() if v) + ") at the rates measured now on "
            f"{plan['device']}")
