"""CINIC-10 from its official ``train/valid/test`` folders of PNGs (one subfolder per class).

Decoding 270k PNGs takes minutes, so the decoded uint8 arrays are stored once as
``<root>/.decoded-<split>.pt`` and reused (deleted and rebuilt if the folder changes).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from eexit.data.base import ImageDataModule
from eexit.data.decoded import decoded_once
from eexit.data.download import fetch, missing
from eexit.data.torchvision_sets import CIFAR10_CLASSES as CLASSES   # CINIC-10 has CIFAR-10's classes
from eexit.errors import EExitError

log = logging.getLogger(__name__)

URL = "https://datashare.is.ed.ac.uk/bitstream/handle/10283/3192/CINIC-10.tar.gz"
ARCHIVE_MD5 = "6ee4d0c996905fe93221de577967a372"
SPLITS = {"train": "train", "val": "valid", "test": "test"}


def read_folder(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """All PNGs of ``folder/<class>/*.png`` -> uint8 [N,3,32,32] (RGB) and class indices. Other
    files are ignored (their count is logged); an unreadable or non-32x32 image fails with one
    line naming it."""
    files = [(p, c) for c, name in enumerate(CLASSES) for p in sorted((folder / name).glob("*.png"))]
    if not files:
        raise missing("CINIC-10", folder, "class folders of PNGs")
    absent = [name for name in CLASSES if not (folder / name).is_dir()]
    if absent:
        raise EExitError(f"{folder} has no class folder {', '.join(absent)}; every split of CINIC-10 needs all "
                         f"10 ({', '.join(CLASSES)})")
    others = sum(1 for p in folder.glob("*/*") if p.is_file() and p.suffix.lower() != ".png")
    if others:
        log.info("%s: ignoring %d files that are not .png", folder, others)
    images = np.empty((len(files), 32, 32, 3), dtype=np.uint8)
    for i, (path, _) in enumerate(tqdm(files, desc=f"decoding {folder.name}", leave=False,
                                       disable=len(files) < 5000)):
        try:
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("RGB"))  # a few CINIC PNGs are greyscale
        except Exception as exc:
            raise EExitError(f"{path} is not a readable image ({type(exc).__name__}); replace or remove it") from None
        if pixels.shape != (32, 32, 3):
            raise EExitError(f"{path} is {pixels.shape[1]}x{pixels.shape[0]}, CINIC-10 images are 32x32; "
                             "replace or remove it")
        images[i] = pixels
    labels = torch.tensor([c for _, c in files], dtype=torch.int64)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), labels


class CINIC10DataModule(ImageDataModule):
    name = "cinic10"
    classes = CLASSES
    mean = (0.47889522, 0.47227842, 0.43047404)
    std = (0.24205776, 0.23828046, 0.25874835)

    def read_splits(self):
        root = Path(self.root)
        if not all((root / d).is_dir() for d in SPLITS.values()):
            if not self.download:
                raise missing("CINIC-10", root, "train/, valid/ and test/ folders")
            fetch(URL, root, ARCHIVE_MD5)
        return {split: self.decoded(root / folder) for split, folder in SPLITS.items()}

    def check_present(self):
        if not self.download and not self.present():
            raise missing("CINIC-10", self.root, "train/, valid/ and test/ folders")

    def present(self) -> bool:
        return all((Path(self.root) / d).is_dir() for d in SPLITS.values())

    def planned_sizes(self):
        """PNG files counted per split folder (nothing decoded); CINIC-10's official 90,000 per split
        when the folders are not there yet (a plan of what a download would cost)."""
        root = Path(self.root)
        if all((root / d).is_dir() for d in SPLITS.values()):
            return ({split: sum(1 for _ in (root / folder).glob("*/*.png")) for split, folder in SPLITS.items()},
                    (3, 32, 32), f"the PNG files under {root}")
        return {split: 90_000 for split in SPLITS}, (3, 32, 32), f"CINIC-10's official sizes (no data at {root} yet)"

    @staticmethod
    def decoded(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
        """The folder's images, decoded once and kept in ``.decoded-<split>.pt`` beside it
        (``eexit.data.decoded``), keyed by every PNG's name, size and modification time."""
        return decoded_once(folder.parent / f".decoded-{folder.name}.pt", folder_stamp(folder),
                            lambda: read_folder(folder))


def folder_stamp(folder: Path) -> str:
    """Digest of every ``<class>/<image>.png``'s name, size and modification time."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*/*.png")):
        st = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()
