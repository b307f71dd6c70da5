"""A plan before any work: what a run will hold (disk, host and GPU memory) and how long it should take.

Made from the data's counts (``planned_sizes``: nothing decoded where files can be counted), an
untrained copy of the backbone (block output shapes, MACs, placement), the heads (what each reads:
``input_reduction``) and rates measured here and now on the run's device: the backbone's forward
throughput and one training step of the heads on features of the stored shape (measured once per
process and shape). Every run logs it first; ``plan=true`` writes ``plan.json`` and stops; a run
that would not fit its disk or memory stops in one line before any training (``fits.py``).
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import torch

from eexit.costs.placement import attach_points
from eexit.data.feature_store import block_name
from eexit.models.early_exit import build_exit_net
from eexit.models.heads import input_reduction
from eexit.methods.base import Workload
from eexit.pipeline.build import built
from eexit.pipeline.parts import BackboneSource
from eexit.pipeline.rates import forward_rate, head_step_seconds, time_saving_seconds, timing_batch

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Plan:
    """What a run will hold and cost, made before any work (``plan.json``): image counts and shape, the stored
    features' blocks and bytes, disk, host and GPU memory, the rates measured now, seconds per phase."""

    images: dict
    image_shape: list
    counts_from: str
    device: str
    backbone: str
    store: bool
    dtype: str
    blocks: list
    store_bytes: int
    disk_bytes: int
    host_bytes: int
    gpu_bytes: int
    batch_bytes: int
    rates: dict
    seconds_by_phase: dict
    seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def plan_run(dm, source: BackboneSource, placement, head, work: Workload, device, time_samples: int | None = None) -> Plan:
    """The plan of a run on the image DataModule ``dm`` with the backbone of ``source`` (an untrained copy of it:
    shapes, MACs, rates), heads from ``head`` at ``placement``, the method's ``work``, and the test images each
    operating point's time saving is measured on (``time_samples``)."""
    sizes, image_shape, counted_from = built("data", dm.planned_sizes)   # the data's own refusals name data.*
    n_all, n_train = sum(sizes.values()), sizes["train"]
    backbone = source.blank(dm.num_classes).to(device)
    shapes = backbone.feature_shapes(tuple(image_shape))
    rate = forward_rate(backbone, image_shape, timing_batch(image_shape, int(dm.eval_batch_size)))
    streaming = bool(getattr(dm, "streaming", False))
    store = work.frozen and (work.feature_cache is True or (work.feature_cache == "auto" and not streaming))
    bytes_el = 2 if work.feature_dtype == "bfloat16" else 4
    blocks, step = [], 0.0
    if work.heads:
        attach = built("placement", lambda: attach_points(placement, backbone, image_shape))
        net = built("head", lambda: build_exit_net(backbone, attach, head, dm.num_classes,
                                                  tuple(image_shape))).to(device)   # the heads check their options
        for b, h in zip(attach, net.heads):
            size = input_reduction(h)
            c, hh, w = shapes[b]
            stored = (c, *(size or (hh, w)))
            blocks.append({"block": b, "name": block_name(b, size),
                           "shape": list(stored), "bytes_per_image": math.prod(stored) * bytes_el})
        step = head_step_seconds(net, [tuple(x["shape"]) for x in blocks], work.batch_size,
                                 torch.bfloat16 if bytes_el == 2 else torch.float32)
    # training features in the chosen dtype; validation and test in float32 (split_dtype), + logits and label
    elements = sum(math.prod(x["shape"]) for x in blocks)
    per_image = 4 * dm.num_classes + 8
    store_bytes = (n_train * (elements * bytes_el + per_image) + (n_all - n_train) * (elements * 4 + per_image)
                   if store else 0)
    params = sum(t.numel() * t.element_size() for t in backbone.state_dict().values())
    images = 0 if streaming else n_all * math.prod(image_shape)
    # an eval batch in flight: a residual block holds about 5 maps of its output's size (input, two convs,
    # their normalised outputs); measured on CIFAR ResNet18 (benchmarks/rehearsal.py)
    batch_act = int(dm.eval_batch_size) * max(math.prod(s) for s in shapes) * 4 * 5
    seconds = {"backbone": source.pretraining.epochs * n_train * 3 / rate if not source.weights else 0.0,
               "features": n_all / rate if store else 0.0,
               "heads": work.head_epochs * (math.ceil(n_train / work.batch_size) * step
                                            + (n_train / rate if work.feature_augment else 0.0)),
               "joint": work.joint_epochs * n_train * 3 / rate,
               "evaluation": 3 * (sizes["val"] + sizes["test"]) / rate
               + (work.regimes * time_saving_seconds(backbone, image_shape, time_samples) if work.heads else 0.0)}
    on_gpu = device.type == "cuda"
    return Plan(images=sizes, image_shape=list(image_shape), counts_from=counted_from, device=str(device),
                backbone=getattr(backbone, "arch", type(backbone).__name__), store=store,
                dtype="bfloat16" if bytes_el == 2 else "float32", blocks=blocks, store_bytes=store_bytes,
                disk_bytes=store_bytes + params,
                # the peak of two phases that never overlap: extraction (an eval batch in flight) and training +
                # evaluation (on a CPU the job's stored features mapped and read)
                host_bytes=process_bytes() + images + params + max(batch_act, 0 if on_gpu else store_bytes),
                gpu_bytes=(images + batch_act + params) if on_gpu else 0, batch_bytes=batch_act,
                rates={"backbone_images_per_s": rate, "head_step_s": step}, seconds_by_phase=seconds,
                seconds=sum(seconds.values()))


def process_bytes() -> int:
    """This process's resident memory now (Python, torch, the libraries): the base every run adds to."""
    try:
        return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def plan_text(plan: Plan) -> str:
    """The plan in one line."""
    mb = 1e6
    blocks = ", ".join(f"{b['name']} {b['bytes_per_image'] / 1e3:.1f} kB/image" for b in plan.blocks) or "none"
    return (f"plan: {'/'.join(str(plan.images[k]) for k in SPLITS)} train/val/test images ({plan.counts_from}); "
            f"stored features: {blocks} ({plan.dtype}{'' if plan.store else ', not stored'}); disk "
            f"{plan.disk_bytes / mb:.1f} MB, host memory {plan.host_bytes / mb:.1f} MB, GPU memory "
            f"{plan.gpu_bytes / mb:.1f} MB; about {plan.seconds:.0f} s (" +
            ", ".join(f"{k} {v:.0f} s" for k, v in plan.seconds_by_phase.items() if v) + ") at the rates measured "
            f"now on {plan.device}")


def without_phases(plan: Plan, done: set[str]) -> Plan:
    """The plan with the phases in ``done`` at 0 s: what the cache already holds costs no time."""
    seconds = {k: (0.0 if k in done else v) for k, v in plan.seconds_by_phase.items()}
    return dataclasses.replace(plan, seconds_by_phase=seconds, seconds=sum(seconds.values()))
