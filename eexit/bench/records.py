"""Where benchmark tables go (``benchmarks/local/`` or, with ``--record``, the tracked ``benchmarks/``) and the
machine line each table starts with."""
from __future__ import annotations

import platform
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"   # a checkout's (benchmarks are not installed)


def results_file(name: str, record: bool, benchmarks: Path = BENCHMARKS) -> Path:
    """``benchmarks/<name>`` (tracked) with ``--record``, else ``benchmarks/local/<name>`` (git-ignored)."""
    folder = benchmarks / ("" if record else "local")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def environment() -> str:
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (f"{platform.machine()} CPU, {torch.get_num_threads()} threads{gpu}; torch {torch.__version__}; "
            f"Python {platform.python_version()}")


RECORDS = Path(__file__).resolve().parents[2] / "docs" / "records"   # what documented numbers are checked against


def write_record(name: str, command: str, values: dict, records: Path = RECORDS) -> Path:
    """``docs/records/<name>.json``: the measuring command, the commit it ran on, the date, the machine and the
    values. Documents cite a value as ``[shown](records/<name>.json "key")``; tests/test_records.py checks that the
    shown number is the recorded one, so a number in the docs changes only when its command measures it again."""
    import json
    import subprocess
    from datetime import datetime, timezone

    from eexit.files.atomic import atomic_write
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=records.parent).stdout.strip() or None
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True, cwd=records.parent).stdout.strip())
    record = {"command": command, "commit": commit, "uncommitted_changes": dirty,
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
              "values": values}
    records.mkdir(parents=True, exist_ok=True)
    path = records / f"{name}.json"
    atomic_write(path, json.dumps(record, indent=2) + "\n")
    return path


def machine() -> str:
    """The machine in words: CPU model and cores, memory, GPU if any."""
    import os
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else \
        platform.processor()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30 if hasattr(os, "sysconf") else 0
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {gpu}; {platform.system()} {platform.release()}"
