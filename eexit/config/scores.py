"""The exit scores there are, read from the source of ``eexit/exits/scores/`` without importing it (torch), so the
command line checks ``calibrator.score`` and its thresholds in a second: each score class's literal attributes
(``name``, ``threshold_range``, ``whole_thresholds``, ``needs_confidence``)."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "exits" / "scores"
DEFAULTS = {"threshold_range": (0.0, 1.0), "whole_thresholds": False, "needs_confidence": False}


@lru_cache(maxsize=1)
def declared_scores() -> dict[str, dict]:
    """``{name: {"threshold_range": (lo, hi), "whole_thresholds": bool, "needs_confidence": bool}}`` read from the
    literal class attributes of this folder's modules (no import: the command line checks before torch loads)."""
    out = {}
    for path in sorted(FOLDER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            facts = {t.id: ast.literal_eval(a.value) for a in node.body if isinstance(a, (ast.Assign, ast.AnnAssign))
                     for t in (a.targets if isinstance(a, ast.Assign) else [a.target])
                     if isinstance(t, ast.Name) and a.value is not None and _literal(a.value)}
            if facts.get("name"):
                out[facts["name"]] = {k: facts.get(k, v) for k, v in DEFAULTS.items()}
    return out


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except ValueError:
        return False


def threshold_problem(score: str, value) -> str | None:
    """What a threshold of ``score`` must be, when ``value`` is not that (None when it is, or the score is unknown)."""
    facts = declared_scores().get(score)
    if facts is None:
        return None
    (lo, hi), whole = facts["threshold_range"], facts["whole_thresholds"]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value and (hi is None or value <= hi) \
        and (not whole or float(value).is_integer())
    where = f">= {lo:g}" if hi is None else f"in [{lo:g}, {hi:g}]"
    return None if ok else f"{'a whole number' if whole else 'a number'} {where} (score {score})"
