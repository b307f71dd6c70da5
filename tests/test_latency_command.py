"""``make bench-latency`` as a command: it says what it times as it goes, stops on SIGTERM, refuses bad sizes."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_latency_shows_progress_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "benchmarks/latency.py", "--backbone", "resnet20", "--samples", "8",
                             "--out", str(tmp_path / "lat.md")], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()   # the first part it times, said before it starts (timing takes longer)
    assert first.startswith("[") and "timing torch, cpu" in first and "batch 1" in first, first
    time.sleep(2)                    # inside the timing (and Lightning's trainer, which handles SIGTERM itself)
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert rc == 143 and "stopped by SIGTERM" in proc.stderr.read()
    assert not (tmp_path / "lat.md").exists()   # nothing half-written


def test_latency_refuses_bad_sizes_in_one_line():
    for flag, value in (("--batches", "1,x"), ("--threads", "one")):
        bad = subprocess.run([sys.executable, "benchmarks/latency.py", flag, value], capture_output=True, text=True,
                             cwd=ROOT, timeout=120)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and f"{flag} takes" in bad.stderr
