"""The bts64 sweep: exactly 64 distinct jobs; a 2-job multirun runs and is aggregated."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import compose_cfg

ROOT = Path(__file__).resolve().parents[1]


def test_bts64_is_64_distinct_jobs():
    cfg = compose_cfg(["sweep=bts64"])
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra import initialize_config_dir
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "eexit" / "conf")):
        hcfg = compose("config", overrides=["sweep=bts64"], return_hydra_config=True)
        params = {k: str(v).split(",") for k, v in hcfg.hydra.sweeper.params.items()}
        jobs = [dict(zip(params, combo)) for combo in itertools.product(*params.values())]
        assert len(jobs) == 64
        seen = set()
        for job in jobs:
            c = compose("config", overrides=["sweep=bts64"] + [f"{k}={v}" for k, v in job.items()])
            seen.add(json.dumps(OmegaConf.to_container(c, resolve=False), sort_keys=True))
    assert len(seen) == 64
    assert cfg.data._target_.endswith("CINIC10DataModule") and cfg.backbone._target_.endswith("resnet18")
    assert cfg.method.name == "bts" and cfg.group == "bts64"


def test_two_job_multirun_and_aggregate(tmp_path):
    sweep_dir = tmp_path / "sweep"
    cmd = [sys.executable, "run.py", "-m", "sweep=bts64", "data=digits", "backbone=resnet20",
           "data.batch_size=128", "pretrain.epochs=2", "method.epochs=2", "trainer.accelerator=cpu",
           "trainer.enable_progress_bar=false", "logger=csv", f"cache_dir={tmp_path / 'cache'}",
           "placement.rule=linear", "calibrator.margin=0.05", "head.width=16,32",
           f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("backbone cache hit") + proc.stderr.count("backbone cache hit") == 1  # trained once
    for job in ("0", "1"):
        r = json.loads((sweep_dir / job / "results.json").read_text())
        assert set(r["regimes"]) == {"boosted", "nonboosted"}
        assert not (sweep_dir / job / "tradeoff.png").exists()     # plot: auto draws none per job of a sweep
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert summary["stats"]["configurations"] == 2 and len(summary["rows"]) == 2
    assert {"boosted_drop_2pt", "nonboosted_drop_2pt"} <= set(summary["rows"][0])
    md = (sweep_dir / "summary.md").read_text()
    assert "head.width=16" in md and "head.width=32" in md
    assert (sweep_dir / "fronts.png").is_file() and (sweep_dir / "summary.csv").is_file()
    # the stand-alone aggregator gives the same table
    out = subprocess.run([sys.executable, "-m", "eexit", "aggregate", str(sweep_dir)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "head.width=32" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "eexit", "aggregate", str(tmp_path / "nothing")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    # --wandb-group: the same summary rebuilt from the results.json each W&B run saved
    pulled_dir = tmp_path / "pulled"
    api = FakeWandbApi("g", [("w-0", "a", sweep_dir / "0" / "results.json"),
                             ("w-1", "b", sweep_dir / "1" / "results.json"),
                             ("w-1", "c", sweep_dir / "1" / "results.json"),   # same name: folder gets the id
                             ("crashed", "d", None)])                         # no results.json: skipped
    assert aggregate_script().main([str(pulled_dir), "--wandb-group", "g"], api=api) == 0
    assert sorted(p.parent.name for p in pulled_dir.glob("*/results.json")) == ["w-0", "w-1-b", "w-1-c"]
    rows = json.loads((pulled_dir / "summary.json").read_text())["rows"]
    by_config = {r["config"]: r for r in summary["rows"]}
    assert len(rows) == 2 and {r["config"] for r in rows} == set(by_config)   # one seed of w-1 pulled twice
    assert [r["duplicate_jobs"] for r in rows] == ["", "w-1-c"]
    for r in rows:
        want = by_config[r["config"]]
        skip = ("jobs", "duplicate_jobs")
        assert {k: v for k, v in r.items() if k not in skip} == {k: v for k, v in want.items() if k not in skip}


def aggregate_script():
    import eexit.cli.aggregate
    return eexit.cli.aggregate


class FakeWandbApi:
    """``wandb.Api`` as the aggregator uses it: runs of a group, each with a downloadable results.json."""

    def __init__(self, group, runs):
        self.group, self.specs = group, runs

    def runs(self, project, filters):
        assert project == "eexit" and filters == {"group": self.group}
        return [self.Run(name, run_id, src) for name, run_id, src in self.specs]

    class Run:
        def __init__(self, name, run_id, src):
            self.name, self.id, self.src = name, run_id, src

        def file(self, name):
            if self.src is None:
                raise ValueError(f"{name} not found")
            src = self.src

            class File:
                def download(self, root, replace=False):
                    Path(root).mkdir(parents=True, exist_ok=True)
                    (Path(root) / "results.json").write_text(src.read_text())
            return File()


@pytest.mark.slow   # 60 s: the multirun summary and figures are covered fast by test_two_job_multirun_and_aggregate
def test_compare_sweep_puts_every_regime_in_one_figure(tmp_path):
    sweep_dir = tmp_path / "compare"
    cmd = [sys.executable, "run.py", "-m", "sweep=compare", "data=digits", "pretrain.epochs=2", "method.epochs=2",
           "trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "logger=csv",
           f"cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert summary["stats"]["configurations"] == 8 and not summary["stats"]["failed_jobs"]
    md = (sweep_dir / "summary.md").read_text()
    for label in ("boosted [conv1d]", "nonboosted [conv1d]", "pteenet [convx]", "eenets [eenet]", "sdn [linear]",
                  "patience [linear]", "nonboosted [linear]", "ztw [linear]", "mixed [linear]"):
        assert label in md
    assert (sweep_dir / "fronts.png").stat().st_size > 1000


def fake_threshold_job(folder: Path, threshold: float) -> None:
    """A finished job of ``sweep=threshold``: the same curve, a different configured operating point."""
    curve = [{"setting": t, "test_acc": 0.9 + 0.09 * t, "agreement": 0.95, "cost_fraction": 0.4 + 0.6 * t,
              "exit_fractions": [1 - t, t]} for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    point = next(p for p in curve if p["setting"] == threshold)
    headline = {"drop_1pt": {"cost_reduction": 0.0, "test_acc": 0.99, "agreement": 1, "setting": 1.0},
                "drop_2pt": None, "drop_5pt": {"cost_reduction": 0.3, "test_acc": 0.945, "agreement": 1, "setting": 0.5}}
    regime = {"head": "convx", "curve": curve, "operating_point": point, "headline": headline}
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "dataset": "digits", "backbone": "resnet20", "seed": 0, "method": "pteenet", "backbone_test_acc": 0.99,
        "overrides": [f"calibrator.threshold={threshold}", "sweep=threshold"],
        "regimes": {"pteenet": regime}, "headlines": {"pteenet": headline}}))


def test_threshold_sweep_summary_has_a_distinct_row_per_threshold_and_no_empty_figure(tmp_path):
    from eexit.reporting.aggregate import aggregate
    for i, t in enumerate((0.25, 0.5, 0.75)):
        fake_threshold_job(tmp_path / str(i), t)
    (tmp_path / "wins.png").write_bytes(b"stale")                 # from an earlier aggregation
    aggregate(tmp_path)
    table = [line for line in (tmp_path / "summary.md").read_text().splitlines() if line.startswith("| ")][1:4]
    assert len(set(table)) == 3 and "calibrator.threshold=0.5" in table[1] and "94.5% @ 0.70" in table[1]
    assert not (tmp_path / "wins.png").exists()                    # no BTS-EE pair: no wins figure
    assert (tmp_path / "fronts.png").stat().st_size > 1000


@pytest.mark.slow   # 52 s: a 4-job sweep run twice (tests/test_faults.py keeps the fast rerun checks)
def test_a_killed_sweep_rerun_into_its_folder_runs_only_what_is_missing(tmp_path):
    """A 4-job sweep whose jobs 2 and 3 never finished (killed: no results.json; failed: FAILED):
    the aggregator names them, the rerun leaves jobs 0-1 alone, and the summary then covers all 4."""
    from eexit.reporting.aggregate import aggregate
    sweep_dir = tmp_path / "sweep"
    cmd = [sys.executable, "run.py", "-m", "method=nonboosted", "data=digits", "backbone=resnet20",
           "pretrain.epochs=1", "method.epochs=1", "trainer.accelerator=cpu", "logger=none",
           f"cache_dir={tmp_path / 'cache'}", "head.width=16,32", "calibrator.margin=0.02,0.05", f"hydra.sweep.dir={sweep_dir}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    kept = {j: (sweep_dir / j / "results.json").stat().st_mtime_ns for j in ("0", "1")}
    (sweep_dir / "2" / "results.json").unlink()                      # killed mid-job
    (sweep_dir / "2" / "FAILED").write_text("RuntimeError: out of memory\n")
    (sweep_dir / "3" / "results.json").unlink()
    summary = aggregate(sweep_dir)
    assert summary["failed_jobs"] == ["2"] and summary["missing_jobs"] == ["3"] and summary["configurations"] == 2
    assert "job 2 failed: RuntimeError: out of memory" in (sweep_dir / "summary.md").read_text()
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("not run again") == 2
    assert {j: (sweep_dir / j / "results.json").stat().st_mtime_ns for j in ("0", "1")} == kept
    assert all(json.loads((sweep_dir / j / "results.json").read_text())["regimes"] for j in "0123")
    assert not (sweep_dir / "2" / "FAILED").exists()
    summary = json.loads((sweep_dir / "summary.json").read_text())["stats"]
    assert summary["configurations"] == 4 and summary["failed_jobs"] == [] and summary["missing_jobs"] == []
    # the same folder with other or reordered values is refused before Hydra writes anything in it
    written = {p: p.stat().st_mtime_ns for p in sweep_dir.rglob("*") if p.is_file()}
    for values in (["head.width=8,16", "calibrator.margin=0.02,0.05"], ["head.width=16,32", "calibrator.margin=0.05,0.02"]):
        other = subprocess.run(cmd[:-3] + values + [f"hydra.sweep.dir={sweep_dir}"],
                               cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
        assert other.returncode == 2 and "holds results of another job" in other.stderr
        assert len(other.stderr.strip().splitlines()) == 1 and "Traceback" not in other.stderr
        assert {p: p.stat().st_mtime_ns for p in sweep_dir.rglob("*") if p.is_file()} == written


@pytest.mark.slow   # 16 s: a 3-job sweep; failed-job bookkeeping is also covered by test_evidence and test_bad_inputs
def test_a_sweep_whose_job_crashes_finishes_the_others_and_exits_1(tmp_path):
    """Any error, not only eexit's own (here a simulated out-of-memory in job 1): FAILED with the reason,
    the other jobs run, the summary names it, exit status 1."""
    sweep_dir = tmp_path / "sweep"
    wrapper = tmp_path / "flaky_run.py"
    wrapper.write_text(f"""
import runpy, sys
sys.path.insert(0, {str(ROOT)!r})
import eexit.pipeline as pipeline
real = pipeline.run_experiment
def flaky(cfg, run_dir, overrides):
    if "seed=1" in overrides:
        raise RuntimeError("CUDA out of memory (simulated)")
    return real(cfg, run_dir, overrides)
pipeline.run_experiment = flaky
sys.argv = ["run.py"] + sys.argv[1:]
runpy.run_path({str(ROOT / "run.py")!r}, run_name="__main__")
""")
    cmd = [sys.executable, str(wrapper), "-m", "method=backbone", "data=digits", "backbone=resnet20",
           "pretrain.epochs=1", "trainer.accelerator=cpu", "logger=none", f"cache_dir={tmp_path / 'cache'}",
           "seed=0,1,2", f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert (sweep_dir / "0" / "results.json").is_file() and (sweep_dir / "2" / "results.json").is_file()
    assert (sweep_dir / "1" / "FAILED").read_text() == "RuntimeError: CUDA out of memory (simulated)\n"
    assert "1 job(s) of the sweep failed" in proc.stderr.splitlines()[-1]
    stats = json.loads((sweep_dir / "summary.json").read_text())["stats"]
    assert stats["failed_jobs"] == ["1"] and stats["jobs"] == 2 and stats["configurations"] == 1   # seeds: one


@pytest.mark.slow   # 14 s: two whole runs at once
def test_two_runs_started_together_both_finish_in_their_own_folders(tmp_path):
    cmd = [sys.executable, str(ROOT / "run.py"), "method=backbone", "data=digits", "backbone=resnet20",
           "pretrain.epochs=1", "trainer.accelerator=cpu", "logger=csv", f"cache_dir={tmp_path / 'cache'}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    folders = sorted(p.parent for p in (tmp_path / "outputs").glob("*/*/results.json"))
    assert len(folders) == 2 and all((f / "csv" / "metrics.csv").is_file() for f in folders)


@pytest.mark.slow
def test_kill_9_during_a_sweep_then_rerun_finishes_only_the_rest(tmp_path):
    """The real thing: SIGKILL a 4-job sweep once 2 jobs have finished, rerun the same command."""
    import signal
    import time
    sweep_dir = tmp_path / "sweep"
    cmd = [sys.executable, "run.py", "-m", "method=nonboosted", "data=digits", "backbone=resnet20",
           "pretrain.epochs=1", "method.epochs=2", "trainer.accelerator=cpu", "logger=none",
           f"cache_dir={tmp_path / 'cache'}", "head.width=16,32", "calibrator.margin=0.02,0.05", f"hydra.sweep.dir={sweep_dir}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 600
    while len(list(sweep_dir.glob("*/results.json"))) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sorted(p.parent.name for p in sweep_dir.glob("*/results.json"))
    assert 2 <= len(finished) < 4, finished
    kept = {j: (sweep_dir / j / "results.json").stat().st_mtime_ns for j in finished}
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("not run again") == len(finished)
    assert {j: (sweep_dir / j / "results.json").stat().st_mtime_ns for j in finished} == kept
    assert all(json.loads((sweep_dir / j / "results.json").read_text())["regimes"] for j in "0123")
    assert json.loads((sweep_dir / "summary.json").read_text())["stats"]["configurations"] == 4


def test_sweep_summary_run_holds_every_configuration_offline(tmp_path, monkeypatch):
    """The W&B dashboard of a sweep: one offline run whose table has every job x regime x point."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    from eexit.reporting.wandb_sweep import log_sweep_summary
    curve = [{"setting": s, "cost_fraction": c, "test_acc": a, "agreement": a, "exit_fractions": [1.0]}
             for s, c, a in ((0.0, 0.3, 0.9), (0.5, 0.6, 0.95), (float("inf"), 1.0, 0.97))]
    runs = [{"_job": str(j), "seed": s, "regimes": {m: {"curve": curve, "operating_point": {"setting": 0.5}}
                                                    for m in ("boosted", "nonboosted")}} for j, s in enumerate((0, 1, 0))]
    rows = [{"jobs": "0 1", "config": "head.width=16"}, {"jobs": "2", "config": "head.width=32"}]
    folder = log_sweep_summary(tmp_path, runs, rows, {"configurations": 2}, "g", mode="offline")
    assert folder is not None and folder.parent == tmp_path / "wandb" and folder.name.startswith("offline-run-")
    (table,) = folder.glob("files/media/table/sweep/points_*.table.json")
    data = json.loads(table.read_text())
    assert len(data["data"]) == 3 * 2 * 3 and "line" in data["columns"]   # every job x regime x point, seeds apart
    assert {r[data["columns"].index("line")] for r in data["data"]} == {
        f"head.width={w} | seed {s} | {m}" for w, s in ((16, 0), (16, 1), (32, 0)) for m in ("boosted", "nonboosted")}
    assert sum(r[data["columns"].index("configured")] for r in data["data"]) == 6   # one per curve
