"""A folder of unlabelled images (field data) as batches for a trained network: every image file under ``root``
(any depth), decoded once, resized to the network's input and normalised as its data was. Labels are -1: only a
risk that needs no labels (``selection.risk=prediction_gap``) can be calibrated on it."""
from __future__ import annotations

from pathlib import Path

import torch

from eexit.data.image_decoding import decode_all
from eexit.data.loader import TensorBatchLoader
from eexit.errors import EExitError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(root: str | Path) -> list[str]:
    folder = Path(root)
    if not folder.is_dir():
        raise EExitError(f"selection.calibration_root={root}: no such folder; give a folder of unlabelled images")
    files = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise EExitError(f"selection.calibration_root={root}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it")
    return files


def unlabelled_loader(root: str | Path, image_shape: tuple[int, ...], mean, std, batch_size: int = 256,
                      workers: int = 0) -> TensorBatchLoader:
    """Batches of ``(image, -1)`` over every image under ``root``, shaped and normalised like the run's data."""
    files = image_files(root)
    images, _ = decode_all([(f, -1) for f in files], tuple(image_shape[1:]), None, workers, "calibration images")
    return TensorBatchLoader(images, torch.full((len(files),), -1, dtype=torch.int64), batch_size,
                             torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32))
