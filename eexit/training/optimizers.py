"""An optimizer and schedule config built once on one parameter when its recipe is built, so a misspelt
``_target_`` or an argument the class refuses answers in one line before any work, not at the first fit.

Configs give them with ``_partial_: true``: ``optimizer(params)``, ``scheduler(optimizer, epochs=, steps_per_epoch=)``.
"""
from __future__ import annotations

import difflib
import importlib

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from eexit.errors import BadArgument


def closest_target(target: str) -> str:
    """``torch.optim.SDG`` -> ``"; closest: torch.optim.SGD"`` (names in the same module), else ``""``."""
    module, _, name = str(target).rpartition(".")
    try:
        names = dir(importlib.import_module(module))
    except ImportError:
        return ""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; closest: {module}.{close[0]}" if close else ""


def cause(exc: Exception) -> Exception:
    """What Hydra's ``InstantiationException`` wraps (the class's own refusal)."""
    return exc.__cause__ if isinstance(exc, InstantiationException) and exc.__cause__ is not None else exc


def check_optimizer(owner: str, optimizer, scheduler=None) -> None:
    """Build ``optimizer`` (and ``scheduler``, for one epoch of one step) on a one-element parameter; a
    :class:`~eexit.errors.BadArgument` naming the argument when that fails."""
    built = None
    for name, config in (("optimizer", optimizer), ("scheduler", scheduler)):
        if config is None:
            continue
        target = config.get("_target_") if hasattr(config, "get") else None
        try:
            make = instantiate(config)
        except InstantiationException as exc:
            if "Error locating target" in str(exc):
                raise BadArgument(owner, f"{name}._target_", target, "an importable class or function"
                                  + closest_target(target)) from None
            raise BadArgument(owner, name, target, f"settings it accepts ({str(cause(exc)).splitlines()[0]})") from None
        try:
            built = make([torch.nn.Parameter(torch.zeros(1))]) if name == "optimizer" else \
                make(built, epochs=1, steps_per_epoch=1)
        except Exception as exc:   # noqa: BLE001 - each optimizer refuses in its own way (ValueError, TypeError)
            raise BadArgument(owner, name, target, f"settings it accepts ({str(exc).splitlines()[0]})") from None
