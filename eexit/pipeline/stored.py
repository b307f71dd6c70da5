"""What of a run's cache is already on disk, so a rerun after a full disk needs room only for the rest.

A run stores its backbone (one cache entry) and, with a frozen backbone, the features its heads read (one file
per split and block, keyed by the backbone's weights). Both keys are known once the data's fingerprint is. Asked
when the disk looks too small for the whole run, and by the plan: a cached backbone or store costs no time.
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


def cached(stage: BackboneStage, plan: Plan) -> tuple[Path, list[Path]] | None:
    """This run's backbone cache entry and the feature files it reads (which may not exist yet), when the entry is
    in the cache; ``None`` otherwise (then no feature file of this run can exist either)."""
    source, dm = stage.source, stage.dm
    if source.weights or not source.cache or not dm.present():   # never starts a download
        return None
    path, key = stage.entry(plan.backbone)
    entry = load_entry(path, key, warn=False)
    if entry is None:
        return None
    files = []
    if plan.store:
        digest, names = tensors_digest(entry["state_dict"]), [b["name"] for b in plan.blocks] + ["final", "labels"]
        for split in SPLITS:
            dtype = split_dtype(split, getattr(torch, plan.dtype))
            root = FeatureStore(source.cache_dir, store_key(plan.backbone, dm, dtype, digest), dtype).root
            files += [root / split / f"{name}.npy" for name in names]
    return path, files


def complete(f: Path) -> bool:
    return f.is_file() and stamp_path(f).is_file()


def stored_bytes(stage: BackboneStage, plan: Plan) -> int:
    """Bytes of this run's backbone cache entry and of the complete feature files it reads, already in the cache."""
    found = cached(stage, plan)
    return 0 if found is None else found[0].stat().st_size + sum(f.stat().st_size for f in found[1] if complete(f))


def cached_phases(stage: BackboneStage, plan: Plan) -> set[str]:
    """The planned phases whose outcome the cache already holds: ``backbone`` (its entry is there) and ``features``
    (every feature file the run reads is there, complete): a sweep's jobs after the first pay neither."""
    found = cached(stage, plan)
    if found is None:
        return set()
    return {"backbone"} | ({"features"} if plan.store and all(complete(f) for f in found[1]) else set())
