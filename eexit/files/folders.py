"""Whether a folder can be made and written into, answered before anything is written (no torch: the command
line asks before Hydra creates its output folder)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

NAME_MAX, PATH_MAX = 255, 4096   # bytes, Linux's limits for one name and a whole path


def folder_problem(folder: Path | str) -> str | None:
    """Why ``folder`` cannot be made and written into, or None. The deepest part of it that exists must be a
    folder in which a folder can be made: a probe folder is made there and removed (``/proc``, a read-only mount
    or a folder of another user each fail that way, where ``os.access`` can still say yes to root)."""
    folder = Path(folder)
    if any(len(part.encode()) > NAME_MAX for part in folder.parts):
        return f"a folder name is longer than {NAME_MAX} bytes; give a shorter one"
    if len(os.fsencode(folder.absolute())) >= PATH_MAX:
        return f"the path is longer than the {PATH_MAX} bytes the file system takes; give a shorter one"
    for parent in [folder, *folder.parents]:
        try:
            if not parent.exists():
                continue
        except OSError as exc:
            return f"{parent} cannot be looked at ({exc.strerror or exc}); give another folder"
        if not parent.is_dir():
            return f"{parent} is a file, so no folder can be made inside it; give another folder"
        probe = parent / f".eexit-probe-{uuid.uuid4().hex}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError as exc:
            return f"no folder can be made in {parent} ({exc.strerror or exc}); give a writable folder"
        return None
    return None
