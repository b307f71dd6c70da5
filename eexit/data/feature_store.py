"""Frozen-backbone outputs stored on disk, shared by every job and process of a sweep.

Layout: ``<cache_dir>/features/<key>/<split>/{block<b>[-<h>x<w>],final,labels}.npy`` where the
key names the backbone weights (a digest of its state), the data (the DataModule's content
fingerprint) and the storage dtype. One file per split and block (and reduction: ``-8x8`` is the
map average-pooled to 8×8 as the head that reads it would), so a job maps only the blocks it reads
and placements that share an attach block share its file.

Files are ``.npy`` (bfloat16 as its 16-bit pattern, ``<i2``) written batch by batch as the
backbone produces them (``NpyWriter``: peak memory is one batch, whatever the split's size),
under a temporary name renamed once every row is in (a crash never leaves half a file).
Extraction holds a file lock (concurrent jobs wait for the first, then load), and loads are
memory-mapped (processes share the pages, nothing is read before it is used). A file that cannot
be read, does not match the split's size or fails its checksum is discarded and rebuilt.

Checksums: each file has a ``<file>.b2`` beside it (``checksums.py``): BLAKE2b of its
split/name and its rows, written once the file is complete, checked on every load.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch

from eexit.data.checksums import check_stamp, drop_stamp, payload_hash, write_stamp
from eexit.errors import EExitError
from eexit.files.atomic import temporary
from eexit.files.digest import state_digest
from eexit.files.locks import exclusive

log = logging.getLogger(__name__)
FORMAT = "v2"   # .npy files, streamed; v1 (whole-split .pt files) entries are simply not found


def store_key(backbone: torch.nn.Module, images, dtype: torch.dtype, digest: str | None = None) -> str:
    """``<arch>-<weights digest>-<data fingerprint>-<dtype>-v2[-<normalisation>]``: what the stored
    features depend on (the normalisation only when it is not the dataset's own). ``digest``: the weights'
    (``state_digest``) when ``backbone`` is only their architecture's name."""
    norm = images.describe().get("normalization")
    tag = f"-n{hashlib.sha256(repr(norm).encode()).hexdigest()[:8]}" if norm else ""
    arch = backbone if isinstance(backbone, str) else getattr(backbone, "arch", "backbone")
    return f"{arch}-{(digest or state_digest(backbone))[:16]}-{images.fingerprint()[:16]}" \
           f"-{str(dtype).split('.')[-1]}-{FORMAT}{tag}"


def split_dtype(split: str, train_dtype: torch.dtype) -> torch.dtype:
    """A split's storage dtype: ``train_dtype`` for training; float32 for validation and test, as the deployed
    float32 network computes them (what is calibrated and reported is exactly what ships)."""
    return train_dtype if split == "train" else torch.float32


def block_name(block: int, reduction: tuple[int, int] | None) -> str:
    """``block5`` (the full map) or ``block5-8x8`` (average-pooled to 8×8)."""
    return f"block{block}" if reduction is None else f"block{block}-{reduction[0]}x{reduction[1]}"


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """numpy has no bfloat16: its 16-bit pattern as int16."""
    t = t.detach().cpu().contiguous()
    return (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()


class NpyWriter:
    """Appends the batches of one tensor to ``path`` as an ``.npy`` of ``rows`` rows: the header first,
    then each batch's bytes, under a temporary name; ``close`` renames it when every row is in."""

    def __init__(self, path: Path, rows: int, tag: str = ""):
        self.path, self.rows, self.done, self.file = Path(path), int(rows), 0, None
        self.tmp = temporary(self.path)
        self.hash = payload_hash(tag)   # the checksum, over what is written (no second read)

    def append(self, t: torch.Tensor) -> None:
        a = to_numpy(t)
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.tmp, "wb")
            np.lib.format.write_array_header_1_0(self.file, {"descr": np.lib.format.dtype_to_descr(a.dtype),
                                                             "fortran_order": False, "shape": (self.rows, *a.shape[1:])})
        self.file.write(memoryview(a).cast("B"))
        self.hash.update(memoryview(a).cast("B"))
        self.done += a.shape[0]

    def close(self) -> None:
        self.file.close()
        if self.done != self.rows:
            self.tmp.unlink(missing_ok=True)
            raise RuntimeError(f"{self.path.name}: {self.done} rows written, the split has {self.rows}")
        drop_stamp(self.path)   # an older file's checksum never vouches for this one
        os.replace(self.tmp, self.path)
        write_stamp(self.path, self.hash.hexdigest())

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


def load(path: Path, dtype: torch.dtype) -> torch.Tensor:
    """A stored tensor, memory-mapped copy-on-write (nothing is read until used; writes stay private)."""
    t = torch.from_numpy(np.load(path, mmap_mode="c"))
    return t.view(torch.bfloat16) if dtype == torch.bfloat16 and t.dtype == torch.int16 else t


def check_finite(name: str, split: str, t: torch.Tensor) -> None:
    if torch.is_floating_point(t) and not bool(torch.isfinite(t).all()):
        raise EExitError(f"the backbone's {name} outputs on the {split} split are not finite (NaN/inf), "
                         "so they are not stored; check the backbone's weights, or train it again with a lower "
                         "learning rate")


class FeatureStore:
    """One backbone + data + dtype: ``get`` what is stored, ``writers`` for what is computed."""

    def __init__(self, cache_dir: str | Path, key: str, dtype: torch.dtype = torch.bfloat16):
        self.root, self.dtype = Path(cache_dir) / "features" / key, dtype

    def lock(self, split: str):
        """Held while ``split`` is extracted: concurrent jobs wait, then load (``eexit.files.locks``)."""
        return exclusive(self.root / f"{split}.lock", f"the {split} features in {self.root.name}",
                         stale=[self.root / split / ".*.tmp"])

    def path(self, split: str, name: str) -> Path:
        return self.root / split / f"{name}.npy"

    def get(self, split: str, names: list[str], rows: int) -> dict[str, torch.Tensor]:
        """The stored tensors among ``names`` with ``rows`` samples (memory-mapped)."""
        out = {}
        for name in names:
            path = self.path(split, name)
            if not path.is_file():
                continue
            try:
                t = load(path, self.dtype)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is rebuilt, never trusted
                log.warning("feature store: discarding unreadable %s (%s)", path, exc)
                path.unlink(missing_ok=True)
                continue
            problem = f"{t.shape[0]} rows, the split has {rows}" if t.shape[0] != rows else \
                check_stamp(path, f"{split}/{name}", t)
            if problem:
                log.warning("feature store: discarding %s (%s); it is rebuilt", path, problem)
                path.unlink(missing_ok=True)
                drop_stamp(path)
                continue
            out[name] = t
        return out

    def writers(self, split: str, names: list[str], rows: int) -> dict[str, NpyWriter]:
        return {n: NpyWriter(self.path(split, n), rows, f"{split}/{n}") for n in names}
