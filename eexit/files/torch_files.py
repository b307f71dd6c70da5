"""Reading ``.pt`` files without running code: ``torch.load(weights_only=True)``, and one line when a file needs more.

A ``.pt`` file is a pickle, and a pickle may name any Python callable for the reader to call: a crafted
checkpoint whose object reduces to ``os.system(...)`` runs its command inside an unrestricted ``torch.load`` (weights-only off)
before any check of its contents. torch's restricted unpickler (``weights_only=True``, torch's own default
since 2.6) admits only tensors, storages, dtypes, numbers, strings and plain containers. Every file eexit
writes holds only those (exit-network checkpoints, backbone cache entries, decoded images, Lightning's resume
checkpoints: ``tests/test_safe_loading.py`` loads each), so every file eexit reads is loaded that way, its
own included: a shared ``cache_dir`` or a downloaded checkpoint may have been replaced by anyone who could
write there (docs/troubleshooting.md, "Sharing a cache").

Two ways a load fails, kept apart because callers treat them differently:
- :class:`RefusedFile`: the file names a Python callable (``GLOBAL posix.system``); it is never loaded, and
  the run stops in one line naming the file (a cache entry like that was planted, not damaged: rebuilding it
  silently would hide the attack from whoever else reads the cache).
- :class:`UnreadableFile`: truncated, empty, not a torch file; a cache rebuilds it, a user's file is named.
"""
from __future__ import annotations

import os
import pickle
import re
from contextlib import contextmanager
from pathlib import Path

from eexit.errors import EExitError

FORCE = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"   # torch's switch: every torch.load in the process is weights-only


class RefusedFile(EExitError):
    """The file would run code when loaded (it names a Python callable); it was not loaded."""


class UnreadableFile(EExitError):
    """The file is not a readable torch file of tensors (truncated, empty, foreign bytes); ``reason`` says how."""

    def __init__(self, path, what: str, reason: str):
        self.reason = reason
        super().__init__(f"{what} {path} cannot be read as a torch file ({reason})")


def refusal(path, exc: BaseException) -> str | None:
    """Why torch's restricted unpickler refused ``path`` because it names a callable, else None."""
    if not isinstance(exc, pickle.UnpicklingError):
        return None
    found = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if found is None:
        return None
    return (f"{path} was not loaded: it names the Python callable {found.group(1)}, which loading would run as code "
            f"(eexit loads only tensors, numbers, strings and containers); give a file saved from a state_dict "
            f"(torch.save(model.state_dict(), path)), and remove this one unless you know who wrote it")


def load_tensors(path: str | Path, what: str = "file"):
    """``torch.load(path, weights_only=True)`` on the CPU. Raises :class:`RefusedFile` for a file that names a
    callable and :class:`UnreadableFile` for one that cannot be read; ``what`` names the file's role."""
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # noqa: BLE001 - zip, pickle, EOF, OS errors: each its own type
        if (reason := refusal(path, exc)) is not None:
            raise RefusedFile(reason) from None
        detail = next((line.strip() for line in str(exc).splitlines() if line.strip()
                       and not line.startswith(("Weights only load failed", "Please file", "Check the doc"))), "")
        raise UnreadableFile(path, what, type(exc).__name__ + (f": {detail[:80]}" if detail else "")) from None


def weights_only_in_this_process() -> None:
    """For eexit's commands: every ``torch.load`` of the process is weights-only, whoever calls it (Lightning,
    timm, torchvision), not only eexit's own (which always are)."""
    os.environ[FORCE] = "1"


@contextmanager
def weights_only_everywhere():
    """Every ``torch.load`` inside, libraries' included (torchvision's hub cache loads with weights-only off),
    is weights-only; a refusal inside is raised as :class:`RefusedFile`."""
    before = os.environ.get(FORCE)
    os.environ[FORCE] = "1"
    try:
        yield
    except pickle.UnpicklingError as exc:
        if (reason := refusal("a library's weights file", exc)) is not None:
            raise RefusedFile(reason) from None
        raise
    finally:
        if before is None:
            os.environ.pop(FORCE, None)
        else:
            os.environ[FORCE] = before
