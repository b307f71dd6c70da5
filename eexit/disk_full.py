"""A full disk in the middle of a run: one line naming the folder, and nothing half-written left behind.

torch's writer reports a full disk as ``RuntimeError: ... unexpected pos ...`` rather than ``ENOSPC``,
so a failure counts as a full disk when it says so or when a folder the run writes to has less than
``NEARLY_FULL`` bytes free. What the run left that a later one would trip on (empty files, temporaries)
is removed, so the disk is not kept full and a rerun starts clean.
"""
from __future__ import annotations

import errno
import shutil
from pathlib import Path

NEARLY_FULL = 64 << 20   # bytes free under which a failure is taken for a full disk


def free_bytes(folder: Path) -> int | None:
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def full_disk_line(exc: BaseException, folders: list[Path], needed: int | None = None) -> str | None:
    """The one line for a failure caused by a full disk under one of ``folders``, else None."""
    said = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in str(exc) \
        or "unexpected pos" in str(exc)
    for folder in folders:
        free = free_bytes(folder)
        if free is not None and (said or free < NEARLY_FULL):
            want = f"; the run needs about {needed / 1e9:.2f} GB there" if needed else ""
            return (f"the disk holding {folder} is full ({free / 1e6:.1f} MB free){want}: free some space or point "
                    f"cache_dir / hydra.run.dir elsewhere, then rerun (what this run left half-written is removed)")
    return None


def remove_partial(run_dir: Path, cache_dir: Path | None = None) -> None:
    """Empty files and temporaries in the run's folder, and temporaries in the cache."""
    for root in (run_dir, cache_dir):
        if root is None or not Path(root).is_dir():
            continue
        for path in Path(root).rglob("*"):
            if path.is_file() and (".tmp" in path.name or (root == run_dir and path.stat().st_size == 0)):
                path.unlink(missing_ok=True)
