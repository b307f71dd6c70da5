"""``results.json``: the machine-readable summary every run leaves (contract in docs/results.md)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path


def _clean(value):
    """JSON has no inf/nan: nan is written as null, +-inf as the strings "inf" / "-inf" (a curve's
    extreme settings; threshold tables write "never exits" as null themselves)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def atomic_write(path: Path, text: str) -> None:
    """Write under a temporary name in the same folder, then rename: readers see the old file or the new."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_results(run_dir: Path, results: dict) -> Path:
    path = Path(run_dir) / "results.json"
    atomic_write(path, json.dumps(_clean(results), indent=2))
    return path


def read_results(path: Path) -> dict:
    return json.loads(Path(path).read_text())
