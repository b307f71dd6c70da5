"""Where a frozen backbone's features come from (``method.feature_cache: auto``), decided from the plan.

- streamed data (ImageNet-sized): the backbone runs on every batch (a store would not fit anywhere);
- a CPU: the store (reading a stored, pooled bf16 map costs a fraction of a backbone forward);
- a GPU whose free memory holds the job's features twice over: the store, kept in GPU memory;
- otherwise the cheaper per epoch of the two measured figures: reading the training split's stored
  features from disk (at ``DISK_READ`` bytes/s, or from the page cache when the host can hold them)
  against running the backbone over it at the plan's measured forward rate.
``plan``: the run's :class:`~eexit.pipeline.plan.Plan` (its counts, bytes and rates). Returns the choice and the
reason, which the run logs.
"""
from __future__ import annotations

DISK_READ = 1.0e9   # bytes/s a local NVMe disk reads sequentially; the page cache is taken as free


def feature_source(plan, streaming: bool, gpu_free: int | None, host_free: int) -> tuple[bool, str]:
    gb = 1e9
    if streaming:
        return False, "the data stream from disk, so features are not stored; the frozen backbone runs on every batch"
    store = plan.store_bytes
    if gpu_free is None:
        return True, f"stored once ({store / gb:.2f} GB, {plan.dtype}): on a CPU reading them beats the backbone"
    if store < 0.5 * gpu_free:
        return True, f"stored once and kept in GPU memory ({store / gb:.2f} GB of {gpu_free / gb:.1f} GB free)"
    train = plan.images['train']
    per_image = sum(b["bytes_per_image"] for b in plan.blocks)   # a training row, in the stored dtype
    read_s = 0.0 if store < 0.5 * host_free else train * per_image / DISK_READ
    forward_s = train / plan.rates['backbone_images_per_s']
    if read_s <= forward_s:
        return True, (f"stored once ({store / gb:.1f} GB); an epoch reads them in {read_s:.0f} s "
                      f"{'(page cache)' if read_s == 0 else ''}, the backbone would take {forward_s:.0f} s")
    return False, (f"not stored: the backbone computes an epoch's features in {forward_s:.0f} s on the GPU, reading "
                   f"{train * per_image / gb:.1f} GB from disk would take {read_s:.0f} s")
