"""One builder per cache entry, whatever launches the jobs.

A backbone or a feature split is built by the first job that needs it; concurrent jobs (joblib
workers, submitit or SLURM tasks, Ray workers sharing ``cache_dir``) wait on a file lock beside the
entry, then load what the first one stored. The lock is ``filelock``'s ``fcntl`` lock: the kernel
releases it when its holder dies, so a job killed with ``kill -9`` never leaves a lock that blocks
the next one. Whoever holds the lock is the only writer of its entry, so temporary files left there
(``stale``: by a killed or crashed job) are removed once it is held.
"""
from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Iterable, Iterator

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)


@contextlib.contextmanager
def exclusive(path: Path | str, what: str, stale: Iterable[Path] = ()) -> Iterator[None]:
    """Hold the lock file ``path`` while building ``what``; says so when another job holds it. Once held,
    the files matched by ``stale`` (glob patterns as paths) are removed: temporaries of dead writers."""
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
    for pattern in stale:
        for leftover in Path(pattern).parent.glob(Path(pattern).name):
            log.warning("removing %s, left by a job that stopped while writing it", leftover)
            leftover.unlink(missing_ok=True)
    try:
        yield
    finally:
        lock.release()
