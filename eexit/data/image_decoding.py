"""Image files decoded by DataLoader workers: one file per item (:class:`DecodedImages`), a whole split at once
(:func:`decode_all`), and the one line of a worker's refusal (:func:`worker_batches`).

Decoding uses ``torchvision.io.decode_image`` and the v2 functional resize/crop. A worker that meets an unreadable
file raises :class:`~eexit.errors.EExitError`; torch re-raises it in the main process with the worker's whole
traceback folded into the message, which :func:`worker_batches` takes back to the worker's own line.
"""
from __future__ import annotations

import re

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF
from tqdm import tqdm

from eexit.errors import EExitError


def worker_batches(loader):
    """``loader``'s batches; a user error raised in a worker comes out as its own one line."""
    try:
        yield from loader
    except EExitError as exc:
        message = str(exc)
        if "Original Traceback" in message:   # torch's re-raise: "Caught EExitError in DataLoader worker ..."
            last = [line for line in message.splitlines() if line.strip()][-1].strip()
            message = re.sub(r"^[\w.]*Error: ", "", last)
        raise EExitError(message) from None


Samples = list[tuple[str, int]]


def pair(size) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, (int, float)) else (int(size[0]), int(size[1]))


class DecodedImages(Dataset):
    """``(uint8 [3,H,W], label, index)`` per file (``ids``: the index to report for each, its
    place in the split): decoded as RGB, shorter side resized to ``resize`` (when given), then
    centre-cropped to ``image_size``."""

    def __init__(self, samples: Samples, image_size, resize: int | None, ids: list[int] | None = None):
        self.samples, self.size, self.resize, self.ids = samples, pair(image_size), resize, ids

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        try:
            img = decode_image(path, mode=ImageReadMode.RGB)
        except Exception as exc:
            raise EExitError(f"{path} is not a readable image ({type(exc).__name__}); replace or remove it") from None
        img = img if img.dtype == torch.uint8 else TF.to_dtype(img, torch.uint8, scale=True)   # 16-bit PNGs
        if self.resize:
            img = TF.resize(img, self.resize, antialias=True)
        if tuple(img.shape[-2:]) != self.size:
            if not self.resize and (img.shape[-2] < self.size[0] or img.shape[-1] < self.size[1]):
                img = TF.resize(img, list(self.size), antialias=True)
            img = TF.center_crop(img, list(self.size))
        return img, label, i if self.ids is None else self.ids[i]


def decode_all(samples: Samples, image_size, resize: int | None, workers: int, what: str):
    """Every image of ``samples`` as one uint8 tensor, decoded by ``workers`` processes."""
    h, w = pair(image_size)
    x = torch.empty(len(samples), 3, h, w, dtype=torch.uint8)
    loader = DataLoader(DecodedImages(samples, image_size, resize), batch_size=256, num_workers=workers)
    for img, _, idx in tqdm(worker_batches(loader), desc=f"decoding {what}", total=len(loader), leave=False,
                            disable=len(samples) < 5000):
        x[idx] = img
    return x, torch.tensor([c for _, c in samples], dtype=torch.int64)


