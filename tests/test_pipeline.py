"""End-to-end runs on digits (CPU): backbone cache, non-boosted and BTS-EE pipelines, W&B offline."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from eexit.errors import EExitError
from eexit.pipeline import run_experiment
from tests.conftest import TINY, compose_cfg

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("shared")


def run(tmp_path, cache, overrides, name="run"):
    cfg = compose_cfg(TINY + overrides + [f"cache_dir={cache}"])
    return run_experiment(cfg, tmp_path / name, overrides), tmp_path / name


def test_backbone_run_then_cache_hit(tmp_path, cache, caplog):
    start = time.perf_counter()
    first, out = run(tmp_path, cache, ["method=backbone"], "a")
    first_s = time.perf_counter() - start
    saved = json.loads((out / "results.json").read_text())
    assert saved["dataset"] == "digits" and saved["backbone"] == "resnet20"
    assert 0.0 < saved["backbone_test_acc"] <= 1.0 and saved["method"] == "backbone"
    assert saved["backbone_val_acc"] * 360 == pytest.approx(round(saved["backbone_val_acc"] * 360), abs=1e-9)
    cum = [b["cumulative_macs"] for b in saved["blocks"]]
    assert cum == sorted(cum) and cum[-1] == saved["backbone_macs"] == 41_218_688
    caplog.set_level(logging.INFO)
    start = time.perf_counter()
    second, _ = run(tmp_path, cache, ["method=backbone"], "b")
    assert second["backbone_source"] == "cache" and first["backbone_source"] in ("trained", "cache")
    assert second["backbone_test_acc"] == first["backbone_test_acc"]
    assert any("backbone cache hit" in r.message for r in caplog.records)
    if first["backbone_source"] == "trained":
        assert time.perf_counter() - start < first_s
    # a different budget is a different backbone
    cfg = compose_cfg(TINY + ["method=backbone", "pretrain.epochs=1", f"cache_dir={cache}"])
    assert run_experiment(cfg, tmp_path / "c")["backbone_source"] == "trained"


def test_nonboosted_end_to_end_reports_what_deploys(tmp_path, cache):
    results, out = run(tmp_path, cache, ["method=nonboosted", "real_skip_samples=null", "time_samples=8"])
    assert len(results["curve"]) >= 10 and set(results["headline"]) == {"drop_1pt", "drop_2pt", "drop_5pt"}
    assert (out / "tradeoff.png").stat().st_size > 1000 and (out / "exits.png").stat().st_size > 1000
    regime = results["regimes"]["nonboosted"]
    # reported = deployed: heads train on bfloat16 features, but validation and test are stored in float32, as the
    # deployed network computes them, so the real-skip check over the whole test split agrees exactly (no tolerance)
    import numpy as np
    dtypes = {(f.parent.name, str(np.load(f, mmap_mode="r").dtype)) for f in cache.rglob("features/*/*/block*.npy")}
    assert dtypes == {("train", "int16"), ("val", "float32"), ("test", "float32")}   # int16: bfloat16's bits
    assert regime["real_skip_matches"] is True
    # every reported point carries the time it saves on this run's device, measured on time_samples test images
    timed = [p for p in regime["headline"].values() if p] + [regime["operating_point"]] + \
        [row for row in regime["cost_table"] if row["setting"] is not None]
    assert len(timed) >= 3 and all(p["time_saving"]["images"] == 8 and p["time_saving"]["device"] == "cpu"
                                   and p["time_saving"]["batch"]["size"] == 8 for p in timed)
    assert all(-1 < p["time_saving"]["batch_1"]["saving"] < 1 for p in timed)
    check = results["plan_check"]   # the plan's seconds beside the measured ones, per phase
    assert check["measured"]["heads"] > 0 and check["planned"]["heads"] > 0 and check["measured_total"] > 0
    # per-exit analysis from the cached outputs agrees with the other per-exit numbers
    assert [r["accuracy"] for r in regime["anytime"]] == pytest.approx(regime["exit_test_acc"])
    assert [r["cost_fraction"] for r in regime["anytime"]] == pytest.approx([e["cost_fraction"] for e in results["exits"]])
    assert [sum(map(sum, m)) for m in regime["confusion"]] == [360] * 4
    assert [sum(m[i][i] for i in range(10)) / 360 for m in regime["confusion"]] == pytest.approx(regime["exit_test_acc"])
    assert all(0 <= c["ece"] <= 1 for c in regime["calibration"]) and len(regime["calibration"]) == 4
    assert [b["budget"] for b in regime["budgeted"]] == [0.25, 0.5, 0.75]
    assert all(b["val_cost_fraction"] is None or b["val_cost_fraction"] <= b["budget"] for b in regime["budgeted"])
    saved_heads = torch.load(regime["checkpoint"], weights_only=False)
    assert saved_heads["attach"] == regime["attach"] and len(saved_heads["policy"]["thresholds"]) == 3
    assert len(results["exits"]) == 4 and results["exits"][-1]["block_name"] == "final"
    for p in results["curve"]:
        assert abs(sum(p["exit_fractions"]) - 1) < 1e-9 and 0 < p["cost_fraction"] < 1.1
    saved = json.loads((out / "results.json").read_text())
    assert saved["curve"] == results["curve"] or len(saved["curve"]) == len(results["curve"])


@pytest.mark.slow   # trains the backbone again and two smaller family members (about 2 minutes on one thread)
def test_static_baseline_trains_like_the_backbone(tmp_path, cache):
    """``latency.py --static`` with a checkpoint: a smaller plain network trained as the backbone was."""
    from eexit.deploy.checkpoint import load_exit_checkpoint
    results, _ = run(tmp_path, cache, ["method=nonboosted"])
    loaded = load_exit_checkpoint(Path(results["regimes"]["nonboosted"]["checkpoint"]))
    # --static with a checkpoint trains smaller family members as the backbone was trained: given the backbone's
    # own builder that repeats its training exactly; the table sets two members around the early exit's MACs
    # beside the early exit's accuracy (the simulation's) and the backbone's
    from functools import partial

    from eexit.bench.baselines import static_accuracy
    from eexit.bench.static import train_like_backbone, training_recipe

    from eexit.models.backbones import cifar_resnet
    spec = training_recipe(loaded.meta["backbone_weights"])
    again = train_like_backbone(partial(cifar_resnet, 20, 10), loaded.data, spec)
    assert (again["val_acc"], again["test_acc"]) == (results["backbone_val_acc"], results["backbone_test_acc"])
    lines = static_accuracy(loaded, loaded.policy)
    ee = [line for line in lines if line.startswith("| early exit")][0].split(" | ")
    static = [line.split(" | ") for line in lines if line.startswith("| static")]
    point = results["regimes"]["nonboosted"]["operating_point"]
    assert float(ee[2]) == pytest.approx(100 * point["test_acc"], abs=0.005) and float(ee[1]) == pytest.approx(
        point["cost_fraction"], abs=0.005)
    assert len(static) == 2 and float(static[0][1]) <= point["cost_fraction"] < float(static[1][1])


def test_checkpoint_reloads_the_deployed_network(tmp_path, cache):
    """A regime checkpoint rebuilds the network and policy: infer on the test split gives the run's exit mix."""
    from hydra.utils import instantiate

    from eexit.deploy.checkpoint import load_exit_checkpoint
    results, out = run(tmp_path, cache, ["method=nonboosted"])
    path = Path(results["regimes"]["nonboosted"]["checkpoint"])
    loaded = load_exit_checkpoint(path)
    dm = instantiate(loaded.data)
    exits = torch.cat([loaded.net.infer(x, loaded.policy)[1] for x, _ in dm.loader("test")])
    hist = torch.bincount(exits, minlength=4).double() / exits.numel()
    assert hist.tolist() == pytest.approx(results["operating_point"]["exit_fractions"], abs=1e-9)
    # the latency benchmark's --checkpoint path predicts from the same exits it times
    from eexit.bench.networks import checkpoint_images
    from eexit.bench.real_skip import mix_rows
    images, name = checkpoint_images(loaded.data, 8)
    assert name == "digits" and torch.equal(images, next(iter(dm.loader("test")))[0][:8])
    (row,) = mix_rows(loaded.net, torch.device("cpu"), 1, 8, images=images, policies={"p": loaded.policy})
    first8 = torch.bincount(exits[:8], minlength=4).double() / 8
    assert row["fractions"] == first8.tolist() and row["measured"] > 0 and row["stage_pred"] > 0
    assert row["skip_ms"] == sorted(row["skip_ms"]) and row["plain_ms"] == sorted(row["plain_ms"])   # p50<=p95<=p99
    (batched,) = mix_rows(loaded.net, torch.device("cpu"), 8, 8, repeats=2, images=images, policies={"p": loaded.policy})
    assert batched["skip_per_s"] == pytest.approx(batched["plain_per_s"] * batched["measured"])
    # python -m eexit.deploy.export: standalone stage programs that infer like the (folded) network
    from eexit.deploy.export import ExportedExitNet, main as export_main
    from eexit.models.fold import fold_batchnorm
    assert export_main([str(path), str(tmp_path / "exp")]) == 0
    exported, folded = ExportedExitNet(tmp_path / "exp"), fold_batchnorm(loaded.net)[0]
    x = next(iter(dm.loader("test")))[0]
    assert all(torch.equal(a, b) for a, b in zip(exported.infer(x, exported.policy), folded.infer(x, loaded.policy)))
    # --format onnx: ONNX graphs run by onnxruntime through the same loop. Tolerance: predictions and exits
    # identical (batch 1, an odd batch, the whole split); logits within 1e-4 of the folded torch network's
    assert export_main([str(path), str(tmp_path / "onnx"), "--format", "onnx"]) == 0
    onnx_net = ExportedExitNet(tmp_path / "onnx")
    assert sorted(p.name for p in (tmp_path / "onnx").glob("stage*")) == [f"stage{i}.onnx" for i in range(4)]
    for b in (1, 9, x.shape[0]):
        assert all(torch.equal(a, c) for a, c in zip(onnx_net.infer(x[:b], onnx_net.policy),
                                                      folded.infer(x[:b], loaded.policy)))
    with torch.no_grad():
        assert torch.allclose(onnx_net.stage(0, x)[1].logits, folded.stage(0, x)[1].logits, atol=1e-4)
    # session options: one thread or two, sequential or parallel, spinning or not: the same predictions and exits
    for options in ({"threads": 1}, {"threads": 2, "execution_mode": "parallel", "spinning": True}):
        other = ExportedExitNet(tmp_path / "onnx", **options)
        assert other.programs[0].session.get_session_options().intra_op_num_threads == options["threads"]
        for b in (1, x.shape[0]):
            assert all(torch.equal(a, c) for a, c in zip(other.infer(x[:b], other.policy), onnx_net.infer(x[:b], onnx_net.policy)))
    for bad, says in (({"threads": 0}, "threads=0 is not allowed"), ({"execution_mode": "eager"}, "execution_mode='eager'")):
        with pytest.raises(EExitError, match=says):
            ExportedExitNet(tmp_path / "onnx", **bad)
    with pytest.raises(EExitError, match="onnx options .*threads.* do not apply"):
        ExportedExitNet(tmp_path / "exp", threads=1)
    stamp = (tmp_path / "exp" / "stage0.pt2").stat().st_mtime_ns
    assert export_main([str(path), str(tmp_path / "exp")]) == 2                         # never overwrites
    assert (tmp_path / "exp" / "stage0.pt2").stat().st_mtime_ns == stamp
    # the run's real-skip check, on a sample spread over the exits and on the whole split, and that it can fail
    from dataclasses import replace

    from eexit.pipeline.settle import Settling, real_skip_matches
    from eexit.training.predict import predict_exits
    test = predict_exits(loaded.net, dm.loader("test"), "cpu")
    some = Settling(dm, torch.device("cpu"), 16, tmp_path, {}, None, (), None)
    assert real_skip_matches(some, loaded.net, loaded.policy, test)
    assert real_skip_matches(replace(some, real_skip_samples=None), loaded.net, loaded.policy, test)
    with torch.no_grad():
        for p in loaded.net.heads[0].parameters():
            p.add_(torch.randn_like(p))
    assert not real_skip_matches(some, loaded.net, loaded.policy, test)
    # a checkpoint whose frozen backbone file is gone says so, in one line, and how to fix it
    ck = torch.load(path, weights_only=False)
    ck["backbone_weights"] = str(tmp_path / "gone.pt")
    torch.save(ck, tmp_path / "edited.pt")
    with pytest.raises(EExitError, match="does not match its checksum"):   # edited: refused as it stands
        load_exit_checkpoint(tmp_path / "edited.pt")
    from eexit.files.digest import payload_digest
    ck["blake2b"] = payload_digest({k: v for k, v in ck.items() if k != "blake2b"})   # as if written so
    torch.save(ck, tmp_path / "orphan.pt")
    with pytest.raises(EExitError, match="re-run the experiment with backbone_cache=true"):
        load_exit_checkpoint(tmp_path / "orphan.pt")
    torch.save({"heads": {}}, tmp_path / "old.pt")
    with pytest.raises(EExitError, match="not an eexit exit-network checkpoint"):
        load_exit_checkpoint(tmp_path / "old.pt")


def test_bts_reports_both_modes(tmp_path, cache):
    results, out = run(tmp_path, cache, ["method=bts"])
    assert set(results["regimes"]) == {"boosted", "nonboosted"} and results["backbone"] == "resnet20"
    assert set(results["headlines"]) == {"boosted", "nonboosted"}
    c = results["comparison"]
    assert c["pair"] == ["boosted", "nonboosted"] and set(c["drop_2pt"]) == {"boosted", "nonboosted", "difference"}
    for drop, point in results["headlines"]["boosted"].items():   # every headline: the validation-selected setting
        val_ok = [p for p in results["regimes"]["boosted"]["val_curve"]
                  if p["val_acc"] >= results["backbone_val_acc"] - int(drop[5]) / 100 - 1e-12]
        if point is not None:
            chosen = min(val_ok, key=lambda p: (p["cost_fraction"], -p["val_acc"]))
            assert point["setting"] == chosen["setting"]
            assert point["test_acc"] == next(q["test_acc"] for q in results["regimes"]["boosted"]["curve"]
                                             if q["setting"] == chosen["setting"])
    stages = results["regimes"]["boosted"]["method"]["stages"]
    assert stages[0]["train_pool"] == 1077
    assert all(s["train_pool"] == prev["train_pool"] - prev["train_exited"] for prev, s in zip(stages, stages[1:]))


def test_wandb_offline_writes_run_folder(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_cfg(TINY + ["method=nonboosted", "logger=wandb", f"cache_dir={cache}"])
    from eexit.reporting.loggers import finish_wandb
    try:
        run_experiment(cfg, tmp_path / "w")
    finally:
        finish_wandb()
    runs = list((tmp_path / "w" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    saved = runs[0] / "files" / "results.json"  # kept with the run for `aggregate.py --wandb-group`
    timeless = lambda r: {k: v for k, v in r.items() if k not in ("phase_seconds", "wall_seconds", "plan_check")}  # noqa: E731
    final = json.loads((tmp_path / "w" / "results.json").read_text())
    assert timeless(json.loads(saved.read_text())) == timeless(final)
    assert {"loggers", "backbone", "nonboosted/train", "nonboosted/real_skip", "plot"} <= set(final["phase_seconds"])
    assert (tmp_path / "w" / "csv" / "metrics.csv").is_file()


def test_wandb_confusion_table_holds_every_counted_cell():
    """The per-exit confusion table leaves out empty cells only: summing its rows rebuilds every matrix."""
    from eexit.reporting.wandb_report import log_tradeoff

    class Run:
        def __init__(self):
            self.logged, self.summary = {}, {}

        def log(self, d):
            self.logged.update(d)
    matrices = [[[3, 0, 1], [0, 0, 0], [2, 0, 5]], [[0, 4, 0], [1, 1, 0], [0, 0, 9]]]
    run = Run()
    log_tradeoff(run, {}, {"regimes": {"boosted": {"confusion": matrices, "calibration": []}}}, None)
    table = run.logged["boosted/confusion"]
    assert table.columns == ["exit", "true", "predicted", "count"] and all(row[3] > 0 for row in table.data)
    rebuilt = [[[0] * 3 for _ in range(3)] for _ in matrices]
    for e, t, p, n in table.data:
        rebuilt[e][t][p] += n
    assert rebuilt == matrices and len(table.data) == 8


def test_cli_missing_dataset_is_one_clear_line(tmp_path):
    proc = subprocess.run([sys.executable, "run.py", "data=cifar10", "data.root=/nonexistent", "logger=none",
                           f"hydra.run.dir={tmp_path}/o"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "WANDB_MODE": "disabled"}, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("error: CIFAR-10 not found") and "/nonexistent" in lines[-1]
    assert "data.download=true" in lines[-1] and "Traceback" not in proc.stderr
    for page in ("README.md", "docs/outputs-and-deployment.md"):   # the documented line is the printed one
        assert f"`{lines[-1]}`" in " ".join((ROOT / page).read_text().split()), page


@pytest.mark.slow   # 44 s: two full fits compared (the store's own tests are fast)
def test_feature_cache_equals_uncached_path(tmp_path, cache):
    """Head training from cached (pooled, float32) features gives the same heads and metrics as recomputing
    them; bfloat16 features (the default) give the same curve within a few test images."""
    cached, _ = run(tmp_path, cache, ["method=nonboosted", "method.feature_dtype=float32"], "cached")
    streamed, _ = run(tmp_path, cache, ["method=nonboosted", "method.feature_cache=false"], "streamed")
    a = torch.load(cached["regimes"]["nonboosted"]["checkpoint"], weights_only=False)["heads"]
    b = torch.load(streamed["regimes"]["nonboosted"]["checkpoint"], weights_only=False)["heads"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-4), k
    for p, q in zip(cached["curve"], streamed["curve"]):
        assert p["test_acc"] == pytest.approx(q["test_acc"], abs=1 / 360 + 1e-9)
        assert p["cost_fraction"] == pytest.approx(q["cost_fraction"], abs=0.01)
    half, _ = run(tmp_path, cache, ["method=nonboosted"], "bf16")
    assert list(Path(cache).rglob("block3-8x8.npy")) and half["regimes"]["nonboosted"]["exit_test_acc"] == \
        pytest.approx(cached["regimes"]["nonboosted"]["exit_test_acc"], abs=3 / 360)
    for p, q in zip(cached["curve"], half["curve"]):
        assert p["test_acc"] == pytest.approx(q["test_acc"], abs=3 / 360 + 1e-9)
        assert p["cost_fraction"] == pytest.approx(q["cost_fraction"], abs=0.03)


def test_summary_explains_itself(capsys, tmp_path):
    from eexit.reporting.summary import print_summary
    base = {"dataset": "digits", "backbone": "resnet20", "backbone_test_acc": 0.98, "backbone_macs": 41e6}
    point = {"setting": 0.02, "test_acc": 0.97, "cost_fraction": 0.4}
    headline = {"drop_1pt": None, "drop_2pt": {"cost_reduction": -0.05, "test_acc": 0.975},
                "drop_5pt": {"cost_reduction": 0.6, "test_acc": 0.94}}
    from eexit.methods.boosted_report import pools_lines, skipped_notes, untrained
    stages = [{"head": 0, "trained": True, "train_pool": 1077, "train_exited": 1077, "survivors": "in_sample"},
              {"head": 1, "trained": False, "train_pool": 0, "train_exited": 0, "survivors": "in_sample"}]
    regime = {"operating_point": point, "headline": headline, "exit_val_acc": [0.961, 0.1, 0.986]}
    boosted = {**regime, "head_macs_fraction": 0.004, "untrained_heads": untrained(stages),
               "summary": pools_lines(stages), "notes": skipped_notes("boosted", stages)}   # what the method says
    print_summary({**base, "regimes": {"pteenet": {**regime, "head_macs_fraction": 0.35}, "boosted": boosted}},
                  tmp_path)
    out = capsys.readouterr().out
    assert "pteenet's heads cost 35% of the backbone's MACs" in out and "boosted's heads" not in out
    assert "≤1 pt: none | ≤2 pt: no saving (5.0% more compute) at 97.50% | ≤5 pt: 60.0% less compute at 94.00%" in out
    assert "exits' validation accuracy 96.1% / untrained" in out and "96.1% / 10.0%" in out   # pteenet: trained
    assert "boosted heads 1 had no training samples left: the earlier heads exit 1077 of 1077" in out
    assert "boosted pools (survivors: in_sample): head 0 trained on 1077 (100.0%), 1077 exit; head 1 untrained " \
           "(0 left)" in out and "pteenet pools" not in out and out.count("pools (survivors") == 1
    assert out.strip().splitlines()[-1].startswith("[eexit] results:")


def test_backbone_cache_key_identifies_the_data(tmp_path, fixture_files_pass_md5):
    """Two CIFAR-10 folders (or two user DataModules keeping the default name) never share a
    cached backbone unless they hold the same images and labels."""
    from eexit.data import CIFAR10DataModule
    from eexit.data.base import ImageDataModule
    from eexit.pipeline.backbone_cache import cache_key
    from tests.test_datasets import cifar_fixture
    for name in ("a", "b", "c"):
        cifar_fixture(tmp_path / name)
    batch = tmp_path / "c" / "cifar-10-batches-py" / "data_batch_3"
    entry = __import__("pickle").loads(batch.read_bytes())
    entry["data"][0, 0] += 1                                     # one pixel of one image differs
    batch.write_bytes(__import__("pickle").dumps(entry))
    cfg = compose_cfg(["data=cifar10"])
    keys = {n: cache_key(backbone_spec(cfg, CIFAR10DataModule(root=str(tmp_path / n), val_size=5))) for n in "abc"}
    assert keys["a"] == keys["b"] != keys["c"]                  # same content shares; any change does not

    class Mine(ImageDataModule):                                 # a user's DataModule, default name "base"
        def __init__(self, shift, **kw):
            super().__init__(**kw)
            self.shift = shift

        def read_splits(self):
            x = (torch.arange(40 * 3 * 4 * 4) % 251 + self.shift).to(torch.uint8).view(40, 3, 4, 4)
            return {"train": (x, torch.arange(40) % 10), "test": (x[:8], torch.arange(8) % 10)}
    assert cache_key(backbone_spec(cfg, Mine(0, val_size=5))) != cache_key(backbone_spec(cfg, Mine(1, val_size=5)))


def test_weights_for_another_backbone_say_which_keys_differ(tmp_path):
    from eexit.models.backbones import cifar_resnet, resnet18
    torch.save(cifar_resnet(20).state_dict(), tmp_path / "r20.pt")
    assert cifar_resnet(20, weights=str(tmp_path / "r20.pt")) is not None
    with pytest.raises(EExitError, match=r"does not fit resnet18: missing .* unexpected .*same backbone and classes"):
        resnet18(weights=str(tmp_path / "r20.pt"))
    with pytest.raises(EExitError, match=r"shape differs for blocks.10.fc.weight \(10, 64\) vs \(7, 64\)"):
        cifar_resnet(20, num_classes=7, weights=str(tmp_path / "r20.pt"))


@pytest.mark.slow   # 36 s: joint training end to end (EENets' joint test stays fast)
def test_sdn_trains_backbone_and_heads_jointly(tmp_path, cache):
    results, out = run(tmp_path, cache, ["method=sdn"])
    regime = results["regimes"]["sdn"]
    assert regime["head"] == "linear" and regime["policy"]["score"] == "max_softmax"
    assert regime["real_skip_matches"] and len(regime["curve"]) >= 10 and "final_exit_test_acc" in regime
    assert torch.load(regime["checkpoint"], weights_only=False)["network"] is not None   # the jointly trained weights


CHANGES_WEIGHTS = ["seed=1", "data.batch_size=32", "data.crop_padding=0", "data.flip=true", "data.val_size=300",
                   "pretrain.epochs=3", "pretrain.optimizer.lr=0.05", "pretrain.optimizer.momentum=0.8",
                   "pretrain.scheduler.warmup_epochs=0", "pretrain.label_smoothing=0.1", "trainer.precision=bf16-mixed",
                   "trainer.limit_train_batches=1", "+trainer.max_steps=5", "+trainer.accumulate_grad_batches=2",
                   "+trainer.gradient_clip_val=1.0", "trainer.devices=2", "trainer.deterministic=true",
                   "backbone=resnet32", "data=distorted_digits"]
SHOWN_ONLY = ["logger=csv", "plot=false", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=5",
              "method=pteenet", "calibrator.margin=0.1", "budgets=[0.5]", "real_skip_samples=8", "group=x"]


def backbone_spec(cfg, dm) -> dict:
    """What the backbone stage of a run with config ``cfg`` would key the cache by, for the data ``dm``."""
    from eexit.pipeline.backbone import BackboneStage
    from eexit.pipeline.compose import compose
    return BackboneStage(compose(cfg).source, dm, None, torch.device("cpu")).spec()


def test_backbone_cache_key_follows_every_setting_that_changes_the_weights():
    from hydra.utils import instantiate

    from eexit.pipeline.backbone_cache import cache_key

    def key(overrides):
        cfg = compose_cfg(["data=digits", "trainer.accelerator=cpu", *overrides])
        return cache_key(backbone_spec(cfg, instantiate(cfg.data)))
    base = key([])
    changed = [o for o in CHANGES_WEIGHTS if key([o]) == base]
    assert not changed, changed
    assert [o for o in SHOWN_ONLY if key([o]) != base] == []
