"""What makes two jobs one configuration: their composed configs agree on every setting but the seed.

A sweep's summary groups jobs by this, never by their command lines: two jobs on different data whose command lines
both read ``method=bts seed=0`` / ``seed=1`` are two configurations, and a sweep resumed after a default changed
refuses to average old jobs with new ones. Keys that only present, place or log a run are not settings
(``NOT_SETTINGS``); the seed is held at 0 while resolving, so ``data.seed: ${seed}`` reads the same in every seed.
Light (no torch): the command line compares a finished job's settings before anything loads.
"""
from __future__ import annotations

import hashlib
import json

from omegaconf import OmegaConf

NOT_SETTINGS = {"seed", "hydra", "logger", "group", "plot", "plan", "cache_dir", "data_dir", "backbone_cache",
                "objective", "real_skip_samples", "time_samples"}
NOT_TRAINER_SETTINGS = {"enable_progress_bar", "enable_model_summary", "log_every_n_steps", "default_root_dir",
                        "enable_checkpointing", "logger"}


def settings_of(cfg) -> dict[str, str]:
    """Every setting of ``cfg`` as ``dotted.key -> JSON text`` (the seed and presentation left out)."""
    copy = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    copy.seed = 0   # interpolations of the seed resolve alike in every seed
    try:
        plain = OmegaConf.to_container(copy, resolve=True)
    except Exception:   # noqa: BLE001 - a resolver that needs a running Hydra job: compare the written form
        plain = OmegaConf.to_container(copy, resolve=False)
    plain = {k: v for k, v in plain.items() if k not in NOT_SETTINGS}
    for key in NOT_TRAINER_SETTINGS:
        (plain.get("trainer") or {}).pop(key, None)
    return dict(sorted(flatten(plain).items()))


def flatten(node, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict) and node:
        out: dict[str, str] = {}
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): json.dumps(node, sort_keys=True, default=str)}


def configuration_id(settings: dict[str, str]) -> str:
    """A short name for one set of settings (BLAKE2b of their JSON)."""
    return hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=8).hexdigest()


def differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """The keys whose settings differ between ``a`` and ``b`` (present in one only, or with other values)."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
