"""One builder per cache entry, whatever launches the jobs.

A backbone or a feature split is built by the first job that needs it; concurrent jobs (joblib
workers, submitit or SLURM tasks, Ray workers sharing ``cache_dir``) wait on a file lock beside the
entry, then load what the first one stored. The lock is ``filelock``'s ``fcntl`` lock: the kernel
releases it when its holder dies, so a job killed with ``kill -9`` never leaves a lock that blocks
the next one.
"""
from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)


@contextlib.contextmanager
def exclusive(path: Path | str, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` while building ``what``; says so when another job holds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another job that is building %s (lock %s)", what, path)
        start = time.perf_counter()
        lock.acquire()
        log.info("%s: the other job finished after %.1f s", what, time.perf_counter() - start)
    try:
        yield
    finally:
        lock.release()
