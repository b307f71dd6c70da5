"""``RegimeRecord``: one trained set of exits in ``results.json``, a type built once and read like the dict it is
written as (``record["curve"]``).

What every regime has is a field (``None`` where a file from an older eexit, or a hand-made record, lacks it). What only its method knows (BTS-EE's boosted stages, the cost-aware loss) lives
under ``method``, which the method writes and generic readers never name; what a method wants a reader to see it
says through generic fields: ``untrained_heads``, and ``summary`` / ``notes`` lines the run prints.
Light on purpose (no torch): the aggregator and a sweep's resume check read it before the stack loads.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True, eq=False)   # equal to any mapping with the same items (Mapping's ==)
class RegimeRecord(Mapping):
    head: str | None = None
    exits: list | None = None
    attach: list | None = None
    exit_val_acc: list | None = None
    exit_test_acc: list | None = None
    head_macs_fraction: float | None = None
    curve: list | None = None
    pareto_front: list | None = None
    headline: dict | None = None
    oracle: dict | None = None
    val_curve: list | None = None
    test_samples: int | None = None
    val_samples: int | None = None
    chance_acc: float | None = None
    operating_point: dict | None = None
    certified: dict | None = None   # selection=risk: the certificate, and what it kept on test
    policy: dict | None = None
    anytime: list | None = None
    cost_table: list | None = None
    cost_table_ztw: list | None = None   # the same budgets selected on test, as ZTW's tables do (protocol: ztw)
    budgeted: list | None = None
    budgeted_geometric: list | None = None
    calibration: list | None = None
    confusion: list | None = None
    real_skip_matches: bool | None = None
    checkpoint: str | None = None
    train_seconds: float | None = None
    final_exit_test_acc: float | None = None   # a network trained whole: its own final exit on test
    untrained_heads: list | None = None
    summary: list | None = None   # lines printed under the regime's headline
    notes: list | None = None     # notes printed after the summary
    method: dict | None = None    # facts only the method reads

    def to_dict(self) -> dict:
        """The fields a record holds (``None``: it lacks that one, as the dict it was read from did)."""
        return {name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None}

    def __getitem__(self, key: str):
        if key not in FIELDS or getattr(self, key) is None:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping) -> "RegimeRecord":
        """A record as ``results.json`` holds it. Records written before ``eexit-results/3`` kept a method's own
        facts beside the others (``stages``, ``loss``): they move under ``method``, and the heads a boosted fit
        left untrained become ``untrained_heads``."""
        if isinstance(data, RegimeRecord):
            return data
        known = {k: v for k, v in data.items() if k in FIELDS}
        method = {**(known.pop("method", None) or {}), **{k: v for k, v in data.items() if k not in FIELDS}}
        if "untrained_heads" not in known and method.get("stages"):
            known["untrained_heads"] = [s["head"] for s in method["stages"] if not s.get("trained", True)]
        return cls(**known, method=method or data.get("method"))


FIELDS = tuple(f.name for f in fields(RegimeRecord))
