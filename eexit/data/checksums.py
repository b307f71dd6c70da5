"""Checksums of stored arrays: what makes a flipped byte, a swapped file or overwritten values show.

A stored file ``f`` gets ``f.b2`` beside it: the BLAKE2b digest of a tag (what the file is, e.g.
``train/block5-8x8``, so two files swapped do not pass for each other) and the file's rows, plus the
size, modification time and inode it had when last verified. A load checks the digest again. Files of
more than ``STAMP_ONLY_BYTES`` are re-hashed only when their stamp changed (any write, rename, swap or
copy changes it): a store is hashed as it is written and trusted while untouched, rather than hashed
again by every job. Measured with ``python benchmarks/rehearsal.py --per-split 4000`` (2-core VM): verifying
the 15 files a bts64 job reads took 0.74 s, 11.8 % of a 6 s two-epoch job, when every file up to 2 GiB was
hashed on every load; with this 32 MiB bound 0.10 s, 2.1 % of a 5 s job (docs/paper-scale.md).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from eexit.files.atomic import atomic_write

STAMP_ONLY_BYTES = 32 << 20   # larger files: re-hashed when size, mtime or inode changed since last verified


def payload_hash(tag: str):
    h = hashlib.blake2b(digest_size=16)
    h.update(tag.encode())
    return h


def stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".b2")


def stat_of(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def write_stamp(path: Path, digest: str) -> None:
    """``path``'s checksum and its current stat, written atomically beside it."""
    atomic_write(stamp_path(path), json.dumps({"blake2b": digest, **stat_of(path)}))


def drop_stamp(path: Path) -> None:
    stamp_path(path).unlink(missing_ok=True)


def tensor_digest(tag: str, t: torch.Tensor) -> str:
    h = payload_hash(tag)
    a = t.contiguous().view(torch.int16) if t.dtype == torch.bfloat16 else t.contiguous()
    h.update(memoryview(a.numpy()).cast("B"))
    return h.hexdigest()


def check_stamp(path: Path, tag: str, t: torch.Tensor) -> str | None:
    """Why the stored tensor ``t`` (read from ``path``) cannot be trusted, or None."""
    try:
        stamp = json.loads(stamp_path(path).read_text())
    except (OSError, ValueError):
        return "no checksum beside it"
    now = stat_of(path)
    if now["size"] > STAMP_ONLY_BYTES and all(stamp.get(k) == v for k, v in now.items()):
        return None
    if tensor_digest(tag, t) != stamp.get("blake2b"):
        return "its checksum does not match: damaged, overwritten or swapped"
    if any(stamp.get(k) != v for k, v in now.items()):
        write_stamp(path, stamp["blake2b"])   # verified as it is now
    return None
