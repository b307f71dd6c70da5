"""``results.json`` as a typed, versioned contract: :class:`Results` (``format: eexit-results/3``).

Written by :meth:`Results.write` only (atomically: readers see the old file or the new one) and read by
:meth:`Results.read` only: the aggregator, the sweep's resume check, the W&B aggregation, the objective
and the benchmarks all go through it, so a damaged, foreign or newer file is refused in one line in one
place. Each regime is a :class:`~eexit.reporting.records.RegimeRecord` (docs/results.md). Versions 1 (before the
format field) and 2 (a method's own facts beside the others in each record) are read as well.
Light on purpose (no torch): a sweep's resume check reads it before the stack loads.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from eexit.errors import EExitError
from eexit.files.atomic import atomic_write
from eexit.reporting.records import RegimeRecord

FORMAT = "eexit-results/3"   # 3: a method's own facts under each record's ``method``
READABLE = (FORMAT, "eexit-results/2", "eexit-results/1")   # 1: before the format field existed


@dataclass
class Results(Mapping):
    """One run's results. Read like the dict it is written from (``results["regimes"]``) or by attribute.

    ``regimes``: each trained set of exits by name (its curve, headline, analysis, checkpoint);
    the primary regime's curve and headline are repeated at top level (``exits`` ... ``cost_table``),
    absent when the method trains no exits (``method=backbone``)."""

    dataset: str
    backbone: str
    method: str
    seed: int
    backbone_test_acc: float
    backbone_val_acc: float | None = None
    overrides: list = field(default_factory=list)
    configuration: str | None = None   # eexit.config.identity: jobs with the same one differ only in the seed
    settings: dict | None = None       # every setting but the seed, dotted key -> JSON text
    cost_unit: str = "MACs (fvcore, batch 1)"
    backbone_source: str | None = None
    backbone_data_parallel: dict | None = None
    backbone_macs: int | None = None
    blocks: list = field(default_factory=list)
    regimes: dict | None = None
    headlines: dict | None = None
    headline_selection: str | None = None
    guards: dict | None = None
    comparison: dict | None = None
    exits: list | None = None
    curve: list | None = None
    pareto_front: list | None = None
    headline: dict | None = None
    oracle: dict | None = None
    operating_point: dict | None = None
    val_curve: list | None = None
    cost_table: list | None = None
    phase_seconds: dict = field(default_factory=dict)
    plan_check: dict | None = None     # the plan's seconds per phase against the measured ones (pipeline/plan_check)
    wall_seconds: float | None = None
    peak_host_bytes: int | None = None
    peak_gpu_bytes: int | None = None
    format: str = FORMAT

    # -- the mapping a reader indexes -------------------------------------------------------
    def to_dict(self) -> dict:
        """Every field; the optional ones only when set (as the file holds them)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None or f.name in REQUIRED}

    def __getitem__(self, key: str):
        return self.to_dict()[key]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    # -- the file ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data, where: str = "results") -> "Results":
        if not isinstance(data, dict):
            raise EExitError(f"{where} is not an eexit results.json (not a JSON object); rerun that job or delete it")
        version = data.get("format", "eexit-results/1")
        if version not in READABLE:
            raise EExitError(f"{where} has format {version!r}; this eexit reads {' and '.join(READABLE)}: "
                             f"update eexit, or rerun that job")
        missing = [k for k in REQUIRED if k not in data]
        unknown = sorted(set(data) - NAMES)
        if missing or unknown:
            raise EExitError(f"{where} is not an eexit results.json ({'missing ' + ', '.join(missing) if missing else ''}"
                             f"{'; ' if missing and unknown else ''}{'unknown ' + ', '.join(unknown) if unknown else ''})"
                             f"; rerun that job or delete its folder")
        regimes = data.get("regimes")
        if regimes is not None:
            regimes = {name: RegimeRecord.from_dict(r) for name, r in regimes.items()}
        return cls(**{**data, "regimes": regimes, "format": FORMAT})

    @classmethod
    def read(cls, path) -> "Results":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise EExitError(f"{path} does not exist; give a run folder's results.json") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise EExitError(f"{path} is not valid JSON ({type(exc).__name__}); rerun that job or delete its folder") \
                from None
        return cls.from_dict(data, str(path))

    def write(self, folder) -> Path:
        path = Path(folder) / "results.json"
        atomic_write(path, json.dumps(clean(self.to_dict()), indent=2))
        return path


NAMES = {f.name for f in fields(Results)}
REQUIRED = ("dataset", "backbone", "method", "seed", "backbone_test_acc")


def clean(value):
    """JSON has no inf/nan: nan is written as null, +-inf as the strings "inf" / "-inf" (a curve's
    extreme settings; threshold tables write "never exits" as null themselves)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):   # a RegimeRecord too
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value
