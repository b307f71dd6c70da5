"""Files written whole or not at all, under one naming convention for what is still being written.

A writer writes ``.<name>.<pid>.tmp`` beside the target and renames it over the target once complete (readers see
the old file or the new, never half of one); on failure the temporary is removed. A writer that dies (``kill
-9``, a machine lost) leaves its temporary behind: :func:`remove_stale` removes those no writer has touched for
``STALE_AFTER`` seconds. The age decides, not the process id, because writers on other machines share a cluster's
``cache_dir`` and their ids mean nothing here; every writer of eexit appends or finishes within seconds.
"""
from __future__ import annotations

import logging
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

log = logging.getLogger(__name__)
STALE_AFTER = 15 * 60   # seconds without a write after which a temporary is a dead writer's
TEMPORARY = re.compile(r"^\..+\.\d+\.tmp(\.\w+)?$")


def temporary(path: Path, keep_suffix: bool = False) -> Path:
    """``.<name>.<pid>.tmp`` beside ``path`` (``.tmp.pt2`` with ``keep_suffix``, for writers that check it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp" + (path.suffix if keep_suffix else ""))


def is_temporary(path: Path) -> bool:
    return bool(TEMPORARY.match(Path(path).name))


@contextmanager
def atomic_path(path: Path | str, keep_suffix: bool = False) -> Iterator[Path]:
    """The temporary to write ``path`` through: renamed over ``path`` when the block ends, removed if it raises."""
    path = Path(path)
    tmp = temporary(path, keep_suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path | str, text: str) -> None:
    """Text, written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_save(obj, path: Path | str) -> None:
    """A torch file (``torch.save``), written atomically."""
    import torch
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def remove_stale(folders: Iterable[Path | str], older_than: float = STALE_AFTER) -> list[Path]:
    """Remove the temporaries under ``folders`` (recursively) untouched for ``older_than`` seconds; returns them."""
    now, gone = time.time(), []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*.tmp*"):
            try:
                if path.is_file() and is_temporary(path) and now - path.stat().st_mtime > older_than:
                    path.unlink()
                    gone.append(path)
            except OSError:   # removed meanwhile by another job
                continue
    if gone:
        log.warning("removed %d temporary file(s) left by writers that stopped (e.g. %s)", len(gone), gone[0])
    return gone
