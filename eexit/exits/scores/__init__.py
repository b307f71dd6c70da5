"""Exit scores: how sure an exit is of its answer, higher = surer; one class per score, found by its ``name``.

A score is a subclass of :class:`~eexit.exits.scores.base.ExitScore` in a module of this folder. Every module here
is imported the first time a score is looked up (:func:`score_named`), so a new score is one file here and a
calibrator yaml that names it (``eexit/conf/calibrator/``): nothing else changes. The command line checks names
and thresholds from the modules' source (``eexit.config.scores``), without importing torch.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from eexit.errors import BadArgument
from eexit.exits.scores.base import ExitScore

__all__ = ["ExitScore", "score_named", "score_names"]


@lru_cache(maxsize=1)
def _classes() -> dict[str, type[ExitScore]]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: dict[str, type[ExitScore]] = {}
    todo = list(ExitScore.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.name:
            found[cls.name] = cls
    return found


def score_names() -> tuple[str, ...]:
    return tuple(sorted(_classes()))


def score_named(name) -> ExitScore:
    """The score called ``name`` (an :class:`ExitScore` is returned as it is)."""
    if isinstance(name, ExitScore):
        return name
    classes = _classes()
    if name not in classes:
        raise BadArgument("ExitScore", "score", name, "one of " + ", ".join(sorted(classes)))
    return classes[name]()
