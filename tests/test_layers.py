"""Arrows point down: every package of eexit sits on a layer and imports only from layers below it (read from the
source, no imports run); files stay small; the command line's checks load no torch."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "eexit"

# lowest first; a part may import from its own files and from every part on a lower layer, nothing else
LAYERS = [
    {"errors"},
    {"files", "distributed"},
    {"config"},
    {"exits", "models", "data"},
    {"costs", "evaluation"},
    {"training"},
    {"methods", "deploy", "reporting"},
    {"pipeline"},
    {"bench"},
    {"cli"},
]


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


def layer_of(part: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if part in layer)


def test_every_part_of_eexit_has_a_layer():
    parts = {part_of(p) for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__", "conf"}   # conf: yaml only
    assert parts == set().union(*LAYERS), parts ^ set().union(*LAYERS)


def test_lower_layers_never_import_upper_ones():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = part_of(path)
        if part in ("__init__", "__main__"):
            continue
        bad = {q for q in eexit_imports(path) - {part} if layer_of(q) >= layer_of(part)}
        violations += [f"{path.relative_to(PACKAGE)} imports eexit.{b}" for b in sorted(bad)]
    assert not violations, violations


def test_no_file_over_200_lines_in_eexit_or_benchmarks():
    roots = [PACKAGE, PACKAGE.parent / "benchmarks"]
    long = {str(p): n for root in roots for p in root.rglob("*.py") if (n := len(p.read_text().splitlines())) > 200}
    assert not long, long


def test_checking_settings_and_the_multirun_callbacks_load_no_torch():
    """The eexit command checks every setting before torch, Lightning and W&B load (a bad setting answers in about
    0.4 s instead of 5 s here); Hydra instantiates the multirun callbacks in every run, so they are light too."""
    import subprocess
    import sys
    code = ("import sys, eexit.config.settings, eexit.cli.multirun_end, eexit.cli.jobs, eexit.cli.objective, "
            "eexit.cli.main, eexit.cli.job, eexit.cli.aggregate, "
            "eexit.reporting.loggers; "
            "print(sorted(m for m in ('torch', 'lightning', 'wandb', 'matplotlib', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
