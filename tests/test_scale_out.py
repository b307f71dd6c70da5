"""Scale-out: DDP processes read disjoint shards and only rank 0 writes; one builder per cache entry
whatever the launcher (joblib, submitit, Ray); a stale lock never blocks; Optuna studies continue."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from eexit.data.loader import TensorBatchLoader

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "WANDB_MODE": "disabled"}
SMALL = ["data=synthetic", "data.train_size=256", "data.val_size=44", "data.test_size=64", "backbone=resnet20",
         "data.batch_size=64", "pretrain.epochs=2", "++method.epochs=2", "trainer.accelerator=cpu",
         "trainer.enable_progress_bar=false", "logger=none"]


def run(args: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def loader(n: int, rank: int, world: int, train: bool) -> TensorBatchLoader:
    images = torch.zeros(n, 3, 2, 2, dtype=torch.uint8)
    return TensorBatchLoader(images, torch.zeros(n, dtype=torch.long), 8, torch.zeros(3), torch.ones(3),
                             shuffle=train, drop_last=train, with_index=True,
                             shard_by=SimpleNamespace(global_rank=rank, world_size=world))


@pytest.mark.parametrize("world", [2, 3])
def test_each_process_reads_its_own_shard_of_every_epoch(world):
    n = 101
    for train in (True, False):
        seen = [torch.cat([b[2] for b in loader(n, r, world, train)]) for r in range(world)]
        every = torch.cat(seen)
        assert every.numel() == torch.unique(every).numel()                      # disjoint
        if train:   # the same number of steps everywhere (DDP needs it); one permutation shared by all
            assert len({len(loader(n, r, world, True)) for r in range(world)}) == 1
            per_process = (n - n % world) // world
            assert every.numel() == world * (per_process // 8 * 8)                 # full batches of an equal share
        else:       # evaluation: every sample exactly once
            assert sorted(every.tolist()) == list(range(n))
    one = torch.cat([b[2] for b in loader(n, 0, 1, True)])                        # one process: unchanged
    assert one.numel() == n // 8 * 8


def test_two_ddp_processes_read_disjoint_shards_and_write_one_result(tmp_path):
    proc = run(SMALL + ["method=backbone", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
                        f"hydra.run.dir={tmp_path / 'run'}", f"cache_dir={tmp_path / 'cache'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    shards = results["backbone_data_parallel"]
    assert shards["processes"] == 2 and shards["read_twice"] == 0
    assert shards["samples_per_process"] == [128, 128] and shards["distinct_samples"] == shards["train_samples"] == 256
    assert len(list(tmp_path.rglob("results.json"))) == 1                         # rank 1 wrote nothing
    assert len(list((tmp_path / "cache" / "backbones").glob("*.pt"))) == 1
    assert not list(Path("/tmp").glob(f"eexit-rank1-*{os.sep}results.json"))     # its scratch folder is gone


@pytest.mark.slow
def test_joint_training_under_ddp_evaluates_and_writes_once(tmp_path):
    proc = run(SMALL + ["method=eenets", "method.batch_size=64", "trainer=ddp", "trainer.devices=2",
                        f"hydra.run.dir={tmp_path / 'run'}", f"cache_dir={tmp_path / 'cache'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["regimes"]["eenets"]["real_skip_matches"] is True
    assert len(list(tmp_path.rglob("results.json"))) == 1 and len(list(tmp_path.rglob("checkpoints/eenets.pt"))) == 1
    assert len(list(tmp_path.rglob("exit_outputs/eenets.pt"))) == 1                 # rank 1 wrote neither
    rank1 = (tmp_path / "run" / "train_ddp_process_1.log").read_text()
    assert "eenets: trained 2 epochs" in rank1                                   # rank 1 trained in step


def test_a_lock_held_by_a_killed_process_does_not_block(tmp_path):
    from eexit.files.locks import exclusive
    lock = tmp_path / "entry.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom eexit.files.locks import exclusive\n"
                               f"with exclusive({str(lock)!r}, 'x'):\n    print('held', flush=True)\n    time.sleep(600)"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    start = time.perf_counter()
    with exclusive(lock, "x"):
        pass
    assert time.perf_counter() - start < 5 and lock.exists()                     # the file stays; the lock is free


def job_logs(sweep: Path) -> str:
    return "\n".join(p.read_text() for p in sweep.glob("*/*.log"))


def built_once(logs: str) -> None:
    """The backbone trained once, and every stored feature file extracted once, over all jobs."""
    assert logs.count("backbone: training") == 1, logs[-3000:]
    extracted = Counter((split, name) for names, split in re.findall(r"features: extracted (.+?) of (\w+) in", logs)
                        for name in names.split(", "))
    assert extracted and max(extracted.values()) == 1, extracted


@pytest.mark.slow   # 38 s: a joblib sweep of four processes (the locks' own tests are fast)
def test_joblib_jobs_build_the_backbone_and_each_feature_once(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run(["-m", "sweep=bts64", *SMALL, "placement.rule=pareto,linear", "calibrator.margin=0.01,0.05",
                        "head.width=16", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                        f"hydra.sweep.dir={sweep}", f"cache_dir={tmp_path / 'cache'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.parent.name for p in sweep.glob("*/results.json")) == ["0", "1", "2", "3"]
    built_once(job_logs(sweep))
    assert json.loads((sweep / "summary.json").read_text())["stats"]["configurations"] == 4


@pytest.mark.slow
def test_submitit_local_jobs_finish_and_the_summary_covers_them(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run(["-m", "sweep=bts64", *SMALL, "placement.rule=linear", "calibrator.margin=0.05", "head.width=16,32",
                        "hydra/launcher=submitit_local", f"hydra.sweep.dir={sweep}", f"cache_dir={tmp_path / 'cache'}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["stats"]["configurations"] == 2 and not summary["failed"]
    assert sorted("head.width=16" in r["config"] for r in summary["rows"]) == [False, True]   # one row per job
    built_once(job_logs(sweep) + "\n".join(p.read_text() for p in (sweep / ".submitit").rglob("*.err")))


@pytest.mark.slow
def test_ray_local_runs_two_jobs(tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    sweep = tmp_path / "sweep"
    proc = run(["-m", "sweep=bts64", *SMALL, "placement.rule=linear", "calibrator.margin=0.05", "head.width=16,32",
                        "hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2", f"hydra.sweep.dir={sweep}",
                        f"cache_dir={tmp_path / 'cache'}"], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.parent.name for p in sweep.glob("*/results.json")) == ["0", "1"]
    built_once(job_logs(sweep))


@pytest.mark.slow
def test_an_optuna_study_returns_the_objective_and_continues(tmp_path):
    import optuna
    common = ["-m", "sweep=bts_optuna", *SMALL, f"cache_dir={tmp_path / 'cache'}", "group=test-optuna"]
    first = run(common + ["hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path / 's1'}"])
    assert first.returncode == 0, first.stderr[-3000:]
    best = (tmp_path / "s1" / "optimization_results.yaml").read_text()
    assert "best_value" in best
    second = run(common + ["hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path / 's2'}"])
    assert second.returncode == 0, second.stderr[-3000:]
    study = optuna.load_study(study_name="test-optuna-saving-val",
                              storage=f"sqlite:///{tmp_path / 'cache' / 'optuna' / 'studies.db'}")
    assert len(study.trials) == 5 and all(t.value is not None for t in study.trials)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == 5                                                  # the continued study moved on
    for t, job in zip(study.trials[:3], sorted((tmp_path / "s1").glob("*/results.json"))):
        r = json.loads(job.read_text())                                           # the value is the objective
        point = r["headline"]["drop_2pt"]
        assert t.value == pytest.approx(point["val_cost_reduction"] if point else 0.0)
