"""Arrows point down: lower layers never import upper ones (read from the source, no imports run)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "eexit"

# what each part of eexit must not import (its own layer and those below it are fine)
FORBIDDEN = {
    "errors": {"data", "models", "exits", "evaluation", "costs", "flops", "placement", "training", "pipeline",
               "reporting", "deploy", "export", "loggers"},
    "data": {"models", "exits", "evaluation", "costs", "flops", "placement", "training", "pipeline", "reporting",
             "deploy", "export"},
    "models": {"data", "exits", "evaluation", "costs", "training", "pipeline", "reporting", "deploy", "export"},
    "exits": {"data", "models", "evaluation", "costs", "training", "pipeline", "reporting", "deploy", "export"},
    "evaluation": {"data", "models", "training", "pipeline", "reporting", "deploy", "export"},
    "costs": {"data", "exits", "evaluation", "training", "pipeline", "reporting", "deploy", "export"},
    "training": {"pipeline", "reporting", "deploy", "export"},
    "reporting": {"data", "models", "training", "pipeline", "deploy", "export"},
    "deploy": {"data", "training", "pipeline", "reporting", "export"},
    "locks": {"data", "models", "exits", "evaluation", "costs", "flops", "placement", "training", "pipeline",
              "reporting", "deploy", "export", "loggers", "jobs"},
    "distributed": {"data", "models", "exits", "evaluation", "costs", "flops", "placement", "training", "pipeline",
                    "reporting", "deploy", "export", "loggers", "jobs", "locks"},   # run.py reads it first
    "objective": {"data", "models", "exits", "evaluation", "costs", "flops", "placement", "training", "pipeline",
                  "reporting", "deploy", "export", "loggers"},   # run.py reads it before the stack loads
    "jobs": {"data", "models", "exits", "evaluation", "costs", "flops", "placement", "training", "pipeline",
             "reporting", "deploy", "export", "loggers"},   # run.py reads it before the stack loads
}


def eexit_imports(path: Path) -> set[str]:
    """The top-level eexit parts ``path`` imports (``eexit.training.module`` -> ``training``)."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        parts |= {n.split(".")[1] for n in names if n.startswith("eexit.") and n.count(".") >= 1}
    return parts


def part_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_lower_layers_never_import_upper_ones():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = part_of(path)
        bad = eexit_imports(path) & FORBIDDEN.get(part, set())
        violations += [f"{path.relative_to(PACKAGE)} imports eexit.{b}" for b in sorted(bad)]
    assert not violations, violations


def test_no_file_in_eexit_over_200_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 200}
    assert not long, long


def test_checking_settings_and_the_multirun_callback_load_no_torch():
    """run.py checks every setting before torch, Lightning and W&B load (a bad setting answers in about
    0.4 s instead of 5 s here); Hydra instantiates the multirun callback in every run, so it is light too."""
    import subprocess
    import sys
    code = ("import sys, eexit.settings, eexit.reporting.multirun_end, eexit.jobs, eexit.objective, eexit.loggers; "
            "print(sorted(m for m in ('torch', 'lightning', 'wandb', 'matplotlib', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
