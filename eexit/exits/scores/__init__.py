"""Exit scores: how sure an exit is of its answer, higher = surer; one class per score, found by its ``name``.

A score is a subclass of :class:`~eexit.exits.scores.base.ExitScore` in a module of this folder. Every module here
is imported the first time a score is looked up (:func:`score_named`), so a new score is one file here and a
calibrator yaml that names it (``conf/calibrator/``): nothing else changes. The command line checks names
and thresholds from the modules' source (:func:`declared_scores`), without importing torch.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path

from eexit.exits.scores.base import ExitScore

__all__ = ["ExitScore", "declared_scores", "score_named", "score_names"]


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
        raise ValueError(f"unknown score {name!r}; choose one of {', '.join(sorted(classes))}")
    return classes[name]()


@lru_cache(maxsize=1)
def declared_scores() -> dict[str, dict]:
    """``{name: {"threshold_range": (lo, hi), "whole_thresholds": bool, "needs_confidence": bool}}`` read from the
    literal class attributes of this folder's modules (no import: the command line checks before torch loads)."""
    base = {"threshold_range": (0.0, 1.0), "whole_thresholds": False, "needs_confidence": False}
    out = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            facts = {t.id: ast.literal_eval(a.value) for a in node.body if isinstance(a, (ast.Assign, ast.AnnAssign))
                     for t in (a.targets if isinstance(a, ast.Assign) else [a.target])
                     if isinstance(t, ast.Name) and a.value is not None and _literal(a.value)}
            if facts.get("name"):
                out[facts["name"]] = {k: facts.get(k, v) for k, v in base.items()}
    return out


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except ValueError:
        return False
