"""Decoded images kept beside their folder, so a sweep decodes each image file once.

Decoding a folder of PNGs or JPEGs takes minutes for CINIC-10 or Tiny-ImageNet; every job of a
sweep needs the same pixels. The uint8 tensors are stored next to the data, keyed by a stamp of
every file's name, size and modification time (and the decoding settings): a replaced image,
even with the count unchanged, makes the stored copy stale. The copy carries a BLAKE2b checksum of
its pixels and labels (about 1 GB/s here: 0.3 s for a CINIC-10 split), so damage that still unpickles
is caught too. Written atomically; an unreadable or damaged copy is decoded again with one warning;
a read-only data folder just decodes every time.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Callable, Iterable

import torch

from eexit.files.atomic import atomic_save
from eexit.files.digest import payload_digest
from eexit.files.torch_files import UnreadableFile, load_tensors

log = logging.getLogger(__name__)

Split = tuple[torch.Tensor, torch.Tensor]


def files_stamp(files: Iterable[Path | str], extra: str = "") -> str:
    """Digest of each file's path, size and modification time, plus ``extra`` (decoding settings)."""
    digest = hashlib.sha256(extra.encode())
    for path in files:
        st = os.stat(path)
        digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def decoded_once(cache: Path, stamp: str, decode: Callable[[], Split]) -> Split:
    """``decode()``'s images and labels, from ``cache`` when it holds the same ``stamp``."""
    if cache.is_file():
        try:
            saved = load_tensors(cache, "decoded copy")   # a planted file that would run code: one line, refused
            if saved.get("stamp") != stamp:
                log.info("decoded %s is stale (images changed); decoding again", cache)
            elif saved.get("blake2b") == payload_digest({"images": saved["images"], "labels": saved["labels"]}):
                return saved["images"], saved["labels"]
            else:
                log.warning("decoded %s does not match its checksum (damaged or overwritten); decoding again", cache)
        except (UnreadableFile, AttributeError, KeyError, TypeError) as exc:   # truncated or damaged: decode again
            log.warning("decoded %s is unreadable (%s); decoding again", cache, type(exc).__name__)
    images, labels = decode()
    try:
        atomic_save({"stamp": stamp, "images": images, "labels": labels,
                     "blake2b": payload_digest({"images": images, "labels": labels})}, cache)
    except OSError as exc:  # read-only data folder: decode every time
        log.warning("could not store decoded %s (%s)", cache, exc)
    return images, labels
