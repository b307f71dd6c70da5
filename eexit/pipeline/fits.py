"""Whether a planned run fits this machine and its data: one line naming the figure and the fix, before any
training (disk under ``cache_dir``, host and GPU memory, a crop padding the images can take, enough training
images for a boosted stage)."""
from __future__ import annotations

from typing import Callable

import torch

from eexit.errors import EExitError
from eexit.files.disk_full import size_text
from eexit.files.machine import available_memory, free_disk
from eexit.pipeline.plan import Plan


def check_fits(plan: Plan, cache_dir, stored: Callable[[], int] = lambda: 0) -> None:
    """One line naming the figure and the fix when the run would not fit, before any training. ``stored()``: the
    bytes of the run already in the cache (asked only when the disk is too small for the whole run)."""
    gb, need, free = 1e9, plan.disk_bytes, free_disk(cache_dir)
    if need > free:   # a rerun after a full disk: only what is missing
        need = max(0, need - stored())
    if need > free:
        raise EExitError(f"the run needs {size_text(need)} more on disk under cache_dir={cache_dir}, {size_text(free)} "
                         f"are free; free space, point cache_dir elsewhere, or keep fewer bytes "
                         f"(method.feature_dtype=bfloat16, head.pool_to, method.feature_cache=false)")
    if plan.host_bytes > available_memory():
        raise EExitError(f"the run needs {plan.host_bytes / gb:.1f} GB of host memory, {available_memory() / gb:.1f} "
                         f"GB are available; lower data.eval_batch_size or keep fewer bytes (method.feature_dtype="
                         f"bfloat16, head.pool_to) or stream the data (data.storage=stream where the dataset has it)")
    if plan.gpu_bytes and torch.cuda.is_available() and plan.gpu_bytes > torch.cuda.mem_get_info()[0]:
        raise EExitError(f"the run needs {plan.gpu_bytes / gb:.1f} GB of GPU memory, "
                         f"{torch.cuda.mem_get_info()[0] / gb:.1f} GB are free; lower data.eval_batch_size or "
                         f"data.placement=cpu")


def check_data_suits(plan: Plan, crop_padding: int, min_train: int | None = None) -> None:
    """One line when the data cannot serve the settings, from the plan's counts and shape (before any training):
    a crop padding of the image's side or more, or fewer training images than the method needs (``min_train``,
    its workload's: a boosted stage's ``min_pool``)."""
    side, pad = min(plan.image_shape[1:]), crop_padding or 0
    if pad >= side:
        raise EExitError(f"data.crop_padding={pad} is not below the images' side ({side} px): a random crop would "
                         f"be mostly padding; give data.crop_padding < {side} (4 for 32 px images, 0 to disable)")
    need = min_train
    if need and plan.images['train'] < need:
        raise EExitError(f"the training split has {plan.images['train']} images, fewer than the "
                         f"method.boosted.min_pool={need} a boosted stage trains on; give more training data or a "
                         f"lower method.boosted.min_pool")
