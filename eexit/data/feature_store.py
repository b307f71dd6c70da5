"""Frozen-backbone outputs stored on disk, shared by every job and process of a sweep.

Layout: ``<cache_dir>/features/<key>/<split>/{block<b>,final,labels}.pt`` where the key
names the backbone weights (a digest of its state), the data (the DataModule's content
fingerprint) and the storage dtype. Blocks are stored one file each, so placements that
share an attach block share its file. Files are written under a temporary name and
renamed (a crash never leaves half a file), extraction holds a file lock (concurrent jobs
wait for the first, then load), and loads are memory-mapped (processes share the pages).
A file that cannot be read, or does not match the split's size, is discarded and rebuilt.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import torch

from eexit.errors import EExitError
from eexit.locks import exclusive

log = logging.getLogger(__name__)


def state_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's state (names, shapes, dtypes, bytes): which weights features came from."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return h.hexdigest()


def store_key(backbone: torch.nn.Module, images, dtype: torch.dtype) -> str:
    """``<arch>-<weights digest>-<data fingerprint>-<dtype>[-<normalisation>]``: what the stored
    features depend on (the normalisation only when it is not the dataset's own)."""
    norm = images.describe().get("normalization")
    tag = f"-n{hashlib.sha256(repr(norm).encode()).hexdigest()[:8]}" if norm else ""
    return f"{getattr(backbone, 'arch', 'backbone')}-{state_digest(backbone)[:16]}-{images.fingerprint()[:16]}" \
           f"-{str(dtype).split('.')[-1]}{tag}"


class FeatureStore:
    """One backbone + data + dtype: ``get`` what is stored, ``put`` what was computed."""

    def __init__(self, cache_dir: str | Path, key: str):
        self.root = Path(cache_dir) / "features" / key

    def lock(self, split: str):
        """Held while ``split`` is extracted: concurrent jobs wait, then load (``eexit.locks``)."""
        return exclusive(self.root / f"{split}.lock", f"the {split} features in {self.root.name}")

    def get(self, split: str, names: list[str], rows: int) -> dict[str, torch.Tensor]:
        """The stored tensors among ``names`` with ``rows`` samples (memory-mapped)."""
        out = {}
        for name in names:
            path = self.root / split / f"{name}.pt"
            if not path.is_file():
                continue
            try:
                t = torch.load(path, mmap=True, weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is rebuilt, never trusted
                log.warning("feature store: discarding unreadable %s (%s)", path, exc)
                path.unlink(missing_ok=True)
                continue
            if t.shape[0] != rows:
                log.warning("feature store: discarding %s (%d rows, the split has %d)", path, t.shape[0], rows)
                path.unlink(missing_ok=True)
                continue
            out[name] = t
        return out

    def put(self, split: str, tensors: dict[str, torch.Tensor]) -> None:
        """Store ``tensors`` (atomic per file); non-finite features are refused, never cached."""
        for name, t in tensors.items():
            if torch.is_floating_point(t) and not bool(torch.isfinite(t).all()):
                raise EExitError(f"the backbone's {name} outputs on the {split} split are not finite (NaN/inf), "
                                 "so they are not stored; check backbone.weights or train the backbone again "
                                 "with a lower pretrain.optimizer.lr")
        folder = self.root / split
        folder.mkdir(parents=True, exist_ok=True)
        for name, t in tensors.items():
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            torch.save(t.detach().cpu().contiguous(), tmp)
            os.replace(tmp, folder / f"{name}.pt")
