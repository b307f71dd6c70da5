"""What of a run's cache is already on disk, so a rerun after a full disk needs room only for the rest.

A run stores its backbone (one cache entry) and, with a frozen backbone, the features its heads read (one file
per split and block, keyed by the backbone's weights). Both keys are known once the data's fingerprint is, so
this is asked only when the disk looks too small for the whole run (it reads the data's fingerprint and the
backbone entry).
"""
from __future__ import annotations

from pathlib import Path

import torch

from eexit.data.checksums import stamp_path
from eexit.data.feature_store import FeatureStore, split_dtype, store_key
from eexit.files.digest import tensors_digest
from eexit.pipeline.backbone import BackboneStage
from eexit.pipeline.backbone_cache import load_entry
from eexit.pipeline.plan import Plan

SPLITS = ("train", "val", "test")


def stored_bytes(stage: BackboneStage, plan: Plan) -> int:
    """Bytes of this run's backbone cache entry and of the complete feature files it reads, already in the cache
    (0 without a cached backbone: no feature file of this run can exist then)."""
    source, dm = stage.source, stage.dm
    if source.weights or not source.cache or not dm.present():   # never starts a download
        return 0
    path, key = stage.entry(plan.backbone)
    entry = load_entry(path, key, warn=False)
    if entry is None:
        return 0
    total = path.stat().st_size
    if plan.store:
        digest, names = tensors_digest(entry["state_dict"]), [b["name"] for b in plan.blocks] + ["final", "labels"]
        files = []
        for split in SPLITS:
            dtype = split_dtype(split, getattr(torch, plan.dtype))
            root = FeatureStore(source.cache_dir, store_key(plan.backbone, dm, dtype, digest), dtype).root
            files += [root / split / f"{name}.npy" for name in names]
        total += sum(f.stat().st_size for f in files if f.is_file() and stamp_path(Path(f)).is_file())
    return total
