"""Train a backbone once, reuse it everywhere.

A trained backbone is stored under a key derived from everything that determines
it (data and its split/augmentation, architecture, seed, epochs, optimizer,
schedule, precision). A later run with the same key loads it instead of training,
and says so. Writes are atomic, so an interrupted run never leaves a broken entry.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch

from eexit.errors import EExitError
from eexit.files.atomic import atomic_save, atomic_write
from eexit.files.digest import tensors_digest
from eexit.files.torch_files import UnreadableFile, load_tensors

log = logging.getLogger(__name__)
CACHE_VERSION = 3  # 2: the key holds the data's content fingerprint and the backbone config; 3: Trainer settings


def cache_key(spec: dict) -> str:
    blob = json.dumps({"version": CACHE_VERSION, **spec}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path(cache_dir: str | Path, arch: str, dataset: str, key: str) -> Path:
    return Path(cache_dir) / "backbones" / f"{arch}-{dataset}-{key}.pt"


def load_entry(path: Path, key: str | None = None, warn: bool = True) -> dict | None:
    """The entry at ``path``, or None (and a warning) when it is missing, unreadable, holds
    non-finite weights, or was stored under another key: such an entry is rebuilt, never trusted.
    An entry that would run code when loaded is refused in one line (``RefusedFile``): it was planted."""
    if not path.is_file():
        return None
    try:
        entry = load_tensors(path, "backbone cache entry")
        problem = entry_problem(entry, key)
    except (UnreadableFile, AttributeError, TypeError) as exc:  # a damaged file is retrained, never trusted
        problem = f"unreadable: {exc}"
    if problem:
        if warn:
            log.warning("backbone cache %s is %s; training it again", path, problem)
        return None
    return entry


def entry_problem(entry, key: str | None) -> str | None:
    if not isinstance(entry, dict) or not {"state_dict", "spec", "metrics"} <= set(entry):
        return "not a backbone cache entry"
    if key is not None and cache_key(entry["spec"]) != key:
        return "stored under another key"
    if not all(torch.isfinite(v).all() for v in entry["state_dict"].values() if torch.is_floating_point(v)):
        return "holding non-finite weights"
    if "weights_digest" in entry and entry["weights_digest"] != tensors_digest(entry["state_dict"]):
        return "damaged: its weights fail their checksum"
    if "weights_digest" not in entry and key is not None:
        return "without a checksum (written by an older eexit)"
    return None


def save_entry(path: Path, state_dict: dict, spec: dict, metrics: dict) -> None:
    """Atomic; weights that are not finite are never stored (nothing NaN is cached: a ``ValueError``)."""
    if (problem := entry_problem({"state_dict": state_dict, "spec": spec, "metrics": metrics}, None)):
        raise EExitError(f"backbone cache entry {path} not stored: {problem}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"state_dict": state_dict, "spec": spec, "metrics": metrics,
                 "weights_digest": tensors_digest(state_dict)}, path)
    atomic_write(path.with_suffix(".json"), json.dumps({"spec": spec, "metrics": metrics}, indent=2, default=str))
