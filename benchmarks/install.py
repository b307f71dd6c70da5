#!/usr/bin/env python
"""What installing eexit costs: a fresh virtual environment, ``pip install`` of the checkout with the tested pins
(constraints.txt), then each extra on top; seconds and disk for each, pip's cache left out (``--no-cache-dir``),
so every package is fetched as a new user's would be.

    python benchmarks/install.py [--extras onnx,sweeps,peers,dev] [--record]

``--record`` writes docs/records/install.json (README cites it); without it the numbers are only printed.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def timed_install(python: Path, target: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-cache-dir", "--disable-pip-version-check",
                    "-c", str(ROOT / "constraints.txt"), target], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extras", default="onnx,sweeps,peers,dev", help="extras to install on top, one after another")
    ap.add_argument("--record", action="store_true", help="write docs/records/install.json")
    args = ap.parse_args(argv)
    values: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="eexit-install-") as tmp:
        env = Path(tmp) / "env"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        python = env / "bin" / "python"
        seconds = time.perf_counter() - start + timed_install(python, ".")
        values["base"] = {"seconds": round(seconds), "gib": round(folder_bytes(env) / 2 ** 30, 2)}
        print(f"base: {values['base']['seconds']} s, {values['base']['gib']} GiB", flush=True)
        for extra in [e for e in args.extras.split(",") if e]:
            before = folder_bytes(env)
            seconds = timed_install(python, f".[{extra}]")
            added = folder_bytes(env) - before
            values[extra] = {"seconds": round(seconds), "added_gib": round(added / 2 ** 30, 2),
                             "total_gib": round(folder_bytes(env) / 2 ** 30, 2)}
            print(f"+{extra}: {values[extra]['seconds']} s, +{values[extra]['added_gib']} GiB "
                  f"(total {values[extra]['total_gib']} GiB)", flush=True)
        shutil.rmtree(env, ignore_errors=True)
    if args.record:
        sys.path.insert(0, str(ROOT))
        from eexit.bench.records import write_record
        print(f"recorded: {write_record('install', 'python benchmarks/install.py --record', values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
