"""Where benchmark tables go (``benchmarks/local/`` or, with ``--record``, the tracked ``benchmarks/``) and the
machine line each table starts with."""
from __future__ import annotations

import platform
from pathlib import Path

import torch



def results_file(name: str, record: bool) -> Path:
    """``benchmarks/<name>`` (tracked) with ``--record``, else ``benchmarks/local/<name>`` (git-ignored)."""
    folder = Path(__file__).parent / ("" if record else "local")
    folder.mkdir(exist_ok=True)
    return folder / name


def environment() -> str:
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (f"{platform.machine()} CPU, {torch.get_num_threads()} threads{gpu}; torch {torch.__version__}; "
            f"Python {platform.python_version()}")
