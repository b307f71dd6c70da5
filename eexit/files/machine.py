"""What this machine has free now: memory a new process can use and disk under a folder (plans and
feature-source decisions compare them with what a run needs)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def available_memory() -> int:
    """Bytes the kernel says a new process can use without swapping (``MemAvailable``)."""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def free_disk(folder) -> int:
    path = Path(folder).resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free
