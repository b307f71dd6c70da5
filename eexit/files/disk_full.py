"""A full disk in the middle of a run: one line naming the folder and what the rest needs, and nothing
half-written left behind.

torch's writer reports a full disk as ``RuntimeError: ... unexpected pos ...`` rather than ``ENOSPC``,
so a failure counts as a full disk when it says so or when a folder the run writes to has less than
``NEARLY_FULL`` bytes free. What this process left that a later run would trip on (its own temporaries, empty
files in the run folder, a resume checkpoint cut short) is removed, so the disk is not kept full and a rerun
starts clean; other jobs' temporaries in a shared cache are theirs to finish.
"""
from __future__ import annotations

import errno
import os
import shutil
import zipfile
from pathlib import Path

NEARLY_FULL = 64 << 20   # bytes free under which a failure is taken for a full disk


def size_text(n: float) -> str:
    """``1.2 MB``, ``3.4 GB``: bytes in the unit that shows them."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def free_bytes(folder: Path) -> int | None:
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def full_disk_line(exc: BaseException, folders: list[Path], needed: int | None = None) -> str | None:
    """The one line for a failure caused by a full disk under one of ``folders``, else None; ``needed``: the
    bytes the rest of the run still has to write there."""
    said = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in str(exc) \
        or "unexpected pos" in str(exc)
    for folder in folders:
        free = free_bytes(folder)
        if free is not None and (said or free < NEARLY_FULL):
            want = f"; the rest of the run needs about {size_text(needed)} there" if needed is not None else ""
            return (f"the disk holding {folder} is full ({size_text(free)} free){want}: free some space or point "
                    f"cache_dir / hydra.run.dir elsewhere, then rerun (what this run left half-written is removed)")
    return None


def remove_partial(run_dir: Path, cache_dir: Path | None = None) -> None:
    """This process's temporaries in the run's folder and the cache, empty files in the run's folder, and resume
    checkpoints (``*.training/last.ckpt``) cut short."""
    mine = f".{os.getpid()}.tmp"
    for root in (run_dir, cache_dir):
        if root is None or not Path(root).is_dir():
            continue
        for path in Path(root).rglob("*"):
            if not path.is_file():
                continue
            cut_short = path.name == "last.ckpt" and path.parent.suffix == ".training" and not zipfile.is_zipfile(path)
            if mine in path.name or cut_short or (root == run_dir and path.stat().st_size == 0):
                path.unlink(missing_ok=True)
