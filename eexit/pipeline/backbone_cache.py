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
import os
from pathlib import Path

import torch

log = logging.getLogger(__name__)
CACHE_VERSION = 2  # 2: the key holds the data's content fingerprint and the backbone config


def cache_key(spec: dict) -> str:
    blob = json.dumps({"version": CACHE_VERSION, **spec}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path(cache_dir: str | Path, arch: str, dataset: str, key: str) -> Path:
    return Path(cache_dir) / "backbones" / f"{arch}-{dataset}-{key}.pt"


def load_entry(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a damaged file is retrained, never trusted
        log.warning("ignoring unreadable backbone cache %s (%s)", path, exc)
        return None


def save_entry(path: Path, state_dict: dict, spec: dict, metrics: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"state_dict": state_dict, "spec": spec, "metrics": metrics}, tmp)
    os.replace(tmp, path)
    (path.with_suffix(".json")).write_text(json.dumps({"spec": spec, "metrics": metrics}, indent=2, default=str))
