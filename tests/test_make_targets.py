"""The Makefile targets no other test runs, run as shipped (``make -s <target> ARGS=...``) on fixture data and small
budgets: each finishes with status 0 and leaves what its help line promises. Slow: each is a sweep or a benchmark."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = "pretrain.epochs=1 method.epochs=1 data.batch_size=128 logger=none real_skip_samples=8 time_samples=4"


def make(target: str, args: str = "", env: dict | None = None, timeout: int = 1200,
         cwd: Path = ROOT, makefile: Path | None = None) -> subprocess.CompletedProcess:
    cmd = ["make", "-s", *(["-f", str(makefile)] if makefile else []), target, *([f"ARGS={args}"] if args else [])]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "WANDB_MODE": "disabled", **(env or {})})
    assert proc.returncode == 0, (target, proc.stdout[-1500:], proc.stderr[-3000:])
    return proc


def finished_jobs(sweep: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]


@pytest.mark.slow
@pytest.mark.parametrize("target, args, jobs", [
    ("bts64-smoke", "placement.rule=pareto calibrator.margin=0.01 head.width=16,32", 2),
    ("reproduce-pteenet-smoke", "++method.loss.two_stage_epochs=0", 3),
    ("reproduce-eenets-smoke", "", 3),
    ("compare-smoke", "", None),
])
def test_smoke_sweeps_run_every_job_and_summarise(tmp_path, target, args, jobs):
    make(target, f"{args} {TINY} cache_dir={tmp_path / 'cache'} hydra.sweep.dir={tmp_path / 'sweep'}")
    runs = finished_jobs(tmp_path / "sweep")
    assert runs and (jobs is None or len(runs) == jobs)
    assert (tmp_path / "sweep" / "summary.md").is_file() and not list((tmp_path / "sweep").glob("*/FAILED"))


@pytest.mark.slow
def test_bts_optuna_smoke_runs_its_trials_and_continues_the_study(tmp_path):
    args = f"{TINY} hydra.sweeper.n_trials=2 cache_dir={tmp_path / 'cache'} hydra.sweep.dir={tmp_path / 'a'}"
    make("bts-optuna-smoke", args)
    assert len(finished_jobs(tmp_path / "a")) == 2 and (tmp_path / "cache" / "optuna" / "studies.db").is_file()


@pytest.mark.slow
def test_bench_rehearsal_compares_the_store_with_its_plan(tmp_path):
    proc = make("bench-rehearsal", "--per-split 256 --old-per-split 64")
    assert "stored bytes" in proc.stdout and "| what | measured | plan |" in proc.stdout


@pytest.mark.slow
def test_gpu_check_runs_on_a_cpu_at_a_tiny_size(tmp_path):
    """``make gpu-check`` is ready for a lent GPU: on a CPU with N=300 images per split it runs every step."""
    proc = make("gpu-check", env={"N": "300", "OUT": str(tmp_path / "gpu")}, timeout=1500)
    assert "sweep plan: 4 jobs" in proc.stdout and proc.stdout.count("planned") >= 4
    assert (tmp_path / "gpu" / "latency.md").is_file()


@pytest.mark.slow
def test_bench_launchers_times_the_basic_launcher(tmp_path):
    proc = make("bench-launchers", "--launchers basic --jobs 8", timeout=1500)
    assert "basic" in proc.stdout


@pytest.mark.slow
def test_test_all_and_clean_outputs_run_as_shipped(tmp_path):
    proc = make("test-all", "tests/test_plan_check.py")
    assert "1 passed" in proc.stdout
    for folder in ("outputs", "multirun"):
        (tmp_path / folder / "x").mkdir(parents=True)
    make("clean-outputs", cwd=tmp_path, makefile=ROOT / "Makefile")
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()
