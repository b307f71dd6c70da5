"""Bad input: one line naming the key and what is allowed, before any work, and nothing earlier is touched."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import CONF, TINY, compose_cfg

from eexit.errors import EExitError
from eexit.pipeline import run_experiment

ROOT = Path(__file__).resolve().parents[1]

# (overrides, text the one-line error must contain)
BAD = [
    (["selection=risk", "selection.delta=0"], "selection.delta=0 is not allowed"),
    (["selection=risk", "selection.alpha=1"], "selection.alpha=1 is not allowed"),
    (["selection=risk", "selection.calibration_root=/nonexistent"], "selection.calibration_root holds unlabelled"),
    (["calibrator.margin=1.5"], "calibrator.margin=1.5"),
    (["calibrator.margin=-0.1"], "calibrator.margin=-0.1"),
    (["calibrator=max_softmax", "calibrator.threshold=1.5"], "calibrator.threshold=1.5"),
    (["calibrator=max_softmax", "calibrator.threshold=-0.2"], "calibrator.threshold=-0.2"),
    (["calibrator.margin_form=sideways"], "calibrator.margin_form='sideways'"),
    (["calibrator.precision_reference=teacher"], "calibrator.precision_reference"),
    (["calibrator.calibrate_on=some"], "calibrator.calibrate_on"),
    (["calibrator.score=logit"], "calibrator.score='logit'"),
    (["calibrator.min_support=0"], "calibrator.min_support=0"),
    (["calibrator.margins=[]"], "calibrator.margins=[]"),
    (["calibrator.margins=[0.5,2]"], "calibrator.margins"),
    (["placement.rule=random"], "placement.rule='random'"),
    (["placement.num_exits=0"], "placement.num_exits=0"),
    (["placement.blocks=[-1]"], "placement.blocks=[-1]"),
    (["head.width=0"], "head.width=0"),
    (["head.width=-8"], "head.width=-8"),
    (["head.layers=0"], "head.layers=0"),
    (["head.kernel_size=0"], "head.kernel_size=0"),
    (["data.batch_size=0"], "data.batch_size=0"),
    (["data.batch_size=-5"], "data.batch_size=-5"),
    (["data.eval_batch_size=0"], "data.eval_batch_size=0"),
    (["data.crop_padding=-1"], "data.crop_padding=-1"),
    (["data.val_size=0"], "data.val_size=0"),
    (["data.val_size=1500"], "digits has 1797 (source) images"),
    (["method.boosted.survivors=out_of_bag"], "method.boosted.survivors='out_of_bag' is not allowed"),
    (["method.boosted.folds=1"], "method.boosted.folds=1 is not allowed"),
    (["data=distorted_digits", "data.copies=0"], "data.copies=0 is not allowed"),
    (["seed=-1"], "seed=-1 is not allowed"),
    (["seed=99999999999"], "seed=99999999999 is not allowed"),
    (["cache_dir=null"], "cache_dir=None is not allowed"),
    (["cache_dir=''"], "cache_dir='' is not allowed"),
    (["budgets=[1.5]"], "budgets=[1.5] is not allowed"),
    (["budgets=[]"], "budgets=[] is not allowed"),
    (["pretrain.optimizer.momentum=-0.5"], "pretrain.optimizer.momentum=-0.5 is not allowed"),
    (["pretrain.optimizer.weight_decay=-1"], "pretrain.optimizer.weight_decay=-1 is not allowed"),
    (["pretrain.scheduler.warmup_epochs=-1"], "pretrain.scheduler.warmup_epochs=-1 is not allowed"),
    (["data.flip=maybe"], "data.flip='maybe' is not allowed"),
    (["callbacks.compile.enabled=maybe"], "callbacks.compile.enabled='maybe' is not allowed"),
    (["method.epochs=0"], "method.epochs=0 is not allowed"),
    (["+data.std=[0,1,1]"], "data.std=[0, 1, 1] is not allowed"),
    (["+data.mean=[0.5,0.5]"], "data.mean=[0.5, 0.5] is not allowed"),
    (["data=imagefolder", "data.image_size=1"], "data.image_size=1 is not allowed"),
    (["trainer.limit_train_batches=-1"], "trainer.limit_train_batches=-1 is not allowed"),
    (["trainer.strategy=warp"], "trainer.strategy='warp' is not allowed"),
    (["calibrator=patience", "calibrator.threshold=0"], "calibrator.threshold=0 is not allowed"),
    (["calibrator=patience", "calibrator.threshold=1.5"], "calibrator.threshold=1.5 is not allowed"),
    (["calibrator=patience", "calibrator.threshold=inf"], "calibrator.threshold=inf is not allowed"),
    (["trainer.precision=16-mixed"], "trainer.precision=16-mixed on a CPU"),
    (["head=convx", "head.depth=0"], "head.depth=0 is not allowed: give 1, 2 or 3 conv blocks"),
    (["head=convx", "head.depth=7"], "head.depth=7 is not allowed"),
    (["calibrator=confidence"], "calibrator.score=confidence needs heads that learn a confidence"),
    (["data=synthetic", "data.val_size=0"], "data.val_size=0"),   # (synthetic val is generated: any size vs train)
    (["method.batch_size=0"], "method.batch_size=0"),
    (["method.epochs=-1"], "method.epochs=-1"),
    (["pretrain.epochs=-2"], "pretrain.epochs=-2"),
    (["pretrain.optimizer.lr=0"], "pretrain.optimizer.lr=0"),
    (["method.optimizer.lr=-1"], "method.optimizer.lr=-1"),
    (["method.targets=teacher"], "method.targets='teacher'"),
    (["method=eenets", "method.targets=backbone"], "method=eenets: targets=backbone needs a frozen backbone"),
    (["method=mixed", "+method.boosted=null"], "method=mixed: JointTraining.__init__() got an unexpected keyword argument 'boosted'"),
    (["method.boosted.min_pool=-1"], "method.boosted.min_pool=-1"),
    (["seed=abc"], "seed='abc'"),
    (["seed=1.5"], "seed=1.5"),
    (["trainer.precision=8-bit"], "trainer.precision='8-bit'"),
    (["trainer.accelerator=tpu"], "trainer.accelerator='tpu'"),
    (["trainer.devices=0"], "trainer.devices=0"),
    (["plot=sometimes"], "plot='sometimes'"),
    (["real_skip_samples=0"], "real_skip_samples=0"),
    (["method=pteenet", "method.loss.version=v9"], "method.loss.version='v9'"),
    (["method=pteenet", "method.loss.lam=-1"], "method.loss.lam=-1"),
    (["method=pteenet", "method.loss.cost_convention=own"], "method.loss.cost_convention='own'"),
    (["method=eenets", "head.block=flat"], "head.block='flat'"),
    (["cache_dir=/proc/eexit-cache"], "cannot write into /proc/eexit-cache"),
    (["method=backbone", "backbone.weights={tmp}/garbage.pt"], "garbage.pt cannot be read by torch.load"),
    (["method=backbone", "backbone.weights={tmp}/absent.pt"], "absent.pt does not exist"),
    (["backbone=timm", "backbone.model=resnet_18"], "unknown timm model 'resnet_18'; did you mean resnet18"),
    (["backbone=torchvision", "backbone.model=convnext-tiny"], "did you mean convnext_tiny"),
    (["backbone=torchvision", "backbone.model=resnet18", "backbone.pretrained=IMAGENET9K"], "no weights IMAGENET9K"),
    (["backbone=torchvision", "backbone.model=vgg16_bn", "data=synthetic", "data.image_size=16"],
     "16x16 images are too small for torchvision-vgg16_bn"),
    (["data=imagefolder", "data.root={tmp}/none"], "image folder not found"),
    (["data=imagefolder", "data.image_size=0"], "data.image_size=0"),
    (["data=imagefolder", "data.storage=disk"], "data.storage='disk'"),
    (["objective.metric=speed"], "objective.metric='speed'"),
    (["objective.drop=3"], "objective.drop=3"),
    (["placement.blocks=[3,5]", "placement.num_exits=3"], "placement.blocks=[3, 5] gives 2 exits but placement.num_exits=3"),
    (["data.crop_padding=40"], "data.crop_padding=40 is not below the images' side (32 px)"),
    (["data=synthetic", "data.train_size=8"], "the training split has 8 images, fewer than the method.boosted.min_pool=32"),
    (["data=imagefolder", "data.root={tmp}", "data.val_size=null"], "data.val_size=None is not allowed"),
    # issue 39: tracebacks before, and nonsense that was accepted
    (["data=imagefolder", "data.root={imgs}"], "data.val_size=500 is not allowed: give between 1 and 39 (the data has no "
     "validation split"),
    (["+trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches=0 is not allowed"),
    (["backbone.depth=21"], "backbone.depth=21 is not allowed: give 6n+2"),
    (["pretrain.optimizer._target_=torch.optim.SDG"], "pretrain.optimizer._target_='torch.optim.SDG' is not allowed: "
     "give an importable class or function; closest: torch.optim.SGD"),
    (["method.optimizer._target_=torch.optim.Adamm"], "method.optimizer._target_='torch.optim.Adamm' is not allowed"),
    (["pretrain.scheduler._target_=eexit.training.schedules.warmup_cosin"], "pretrain.scheduler._target_="),
    (["+pretrain.optimizer.betas=[0.9,0.99]"], "pretrain.optimizer='torch.optim.SGD' is not allowed: give settings it "
     "accepts (SGD.__init__() got an unexpected keyword argument 'betas')"),
    (["data=synthetic", "data.val_size=0.5"], "data.val_size=0.5 is not allowed: give an integer >= 1"),
    (["+trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val=-1 is not allowed"),
    (["trainer.num_sanity_val_steps=-5"], "trainer.num_sanity_val_steps=-5 is not allowed"),
    (["trainer.deterministic=maybe"], "trainer.deterministic='maybe' is not allowed"),
    (["+trainer.val_check_interval=-1"], "trainer: Lightning refuses these settings: You have passed invalid value -1"),
    (["pretrain.optimizer.nesterov=maybe"], "pretrain.optimizer.nesterov='maybe' is not allowed"),
    (["data.seed=-1"], "data.seed=-1 is not allowed"),
    (["objective.drop=true"], "objective.drop=True is not allowed: give one of 1, 2, 5"),
    (["calibrator=patience", "calibrator.sweep=[]"], "calibrator.sweep=[] is not allowed: give null or a non-empty list"),
    (["+trainer.max_steps=0"], "trainer.max_steps=0 is not allowed"),
    (["+trainer.max_epochs=-1"], "trainer.max_epochs is set by eexit for each fit"),
    (["backbone.weights=''"], "backbone.weights='' is not allowed"),
    (["head.kernel_size=100"], "head.kernel_size=100 is not allowed: give at most 64"),
    (["+data.std=[1e-30,1e-30,1e-30]", "method=backbone"], "data.std=[1e-30, 1e-30, 1e-30] is not allowed"),
]
if not torch.cuda.is_available():
    BAD.append((["trainer.accelerator=gpu"], "torch sees no GPU"))


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def imgs(tmp_path_factory):
    """An image folder with train/ and test/ only (40 training images: the default val_size=500 cannot hold out)."""
    from test_image_files import class_tree
    root = tmp_path_factory.mktemp("imgs")
    class_tree(root, classes=("cat", "dog"), per_class=20, size=(16, 16))
    return root


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A cache and a finished run, whose files no bad input may touch."""
    root = tmp_path_factory.mktemp("earlier")
    run_experiment(compose_cfg(TINY + ["method=backbone", f"cache_dir={root / 'cache'}"]), root / "run")
    return root


def test_the_table_has_at_least_30_bad_inputs():
    assert len(BAD) >= 30 and len({tuple(o) for o, _ in BAD}) == len(BAD)


@pytest.mark.parametrize("overrides,says", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_input_is_one_line_before_any_work(overrides, says, earlier, imgs, tmp_path, monkeypatch):
    before = checksums(earlier)
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file")
    overrides = [o.format(tmp=tmp_path, imgs=imgs) for o in overrides]
    import lightning
    monkeypatch.setattr(lightning.Trainer, "fit", lambda *a, **k: pytest.fail("training started"))
    cache = [] if any(o.startswith("cache_dir=") for o in overrides) else [f"cache_dir={earlier / 'cache'}"]
    cfg = compose_cfg(TINY + cache + overrides)
    with pytest.raises(EExitError) as err:
        run_experiment(cfg, tmp_path / "run")
    message = str(err.value)
    assert says in message and "\n" not in message, message
    assert checksums(earlier) == before
    assert not [p for p in (tmp_path / "run").rglob("*") if p.is_file()]   # the run folder holds nothing


def test_bad_input_from_the_command_line_exits_2_with_one_line_and_a_failed_marker(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "run.py", "calibrator.margin=1.5", "logger=none", f"hydra.run.dir={run_dir}",
                           f"cache_dir={tmp_path / 'cache'}"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors == ["error: calibrator.margin=1.5 is not allowed: give a number in [0, 1) "
                      "(the allowed drop in class precision)"], proc.stderr
    assert (run_dir / "FAILED").read_text().startswith("calibrator.margin=1.5 is not allowed")
    assert not (run_dir / "results.json").exists()


HYDRA_BAD = [
    (["method=foo"], "error: method=foo is not an option of method: choose one of " +
     ", ".join(sorted(p.stem for p in (Path(CONF) / "method").glob("*.yaml"))) + " (eexit's yaml files in eexit/conf/method/, and yours in a --config-dir or hydra.searchpath folder)"),
    (["data.batchsize=3"], "error: data.batchsize is not a key of the config (closest: data.batch_size,"),
    (["calibrator.margin"], "error: cannot read the override: Error parsing override 'calibrator.margin'"),
    (["-m", "method=bts,fooo"], "error: method=fooo is not an option of method"),
    (["hydra.run.dir=''"], "error: hydra.run.dir=\"''\" would write into the current folder"),
    (["hydra.run.dir=a_file/run"], "error: hydra.run.dir=a_file/run: a_file is a file"),
    (["hydra.run.dir=" + "x" * 300], "error: hydra.run.dir=" + "x" * 300 + ": a folder name is longer than 255 bytes"),
    (["-m", "seed=0,1", "hydra.sweep.dir=a_file/sweep"], "error: hydra.sweep.dir=a_file/sweep: a_file is a file"),
    # issue 39: Hydra's folders, sweeps checked over every value before the first job, a key another option has
    (["hydra.run.dir=/proc/eexit-run"], "error: hydra.run.dir=/proc/eexit-run: no folder can be made in /proc"),
    (["-m", "seed=0", "hydra.sweep.dir=/proc/eexit-sweep"], "error: hydra.sweep.dir=/proc/eexit-sweep: no folder can "
     "be made in /proc"),
    (["hydra.run.dir=" + "/".join(["d" * 200] * 25)], "error: hydra.run.dir=" + "/".join(["d" * 200] * 25) +
     ": the path is longer than the 4096 bytes the file system takes"),
    (["-m", "seed=0,1,-1"], "error: seed=-1 is not allowed: give an integer in [0, 2**32)"),
    (["-m", "seed=0,1", "data.batch_size=0"], "error: data.batch_size=0 is not allowed"),
    (["-m", "seed=0,1", "head.width=8,0"], "error: head.width=0 is not allowed: give an integer >= 1"),
    (["-m", "foo=1,2"], "error: foo is not a key of the config"),
    (["policy.margin=0.05"], "error: policy.margin=0.05: the group is called calibrator now; write calibrator.margin=0.05"),
    (["data.std=[1,1,1]"], "error: data.std is not a key of the options chosen here (another option of its group "
     "has it); add it with a leading +: +data.std=..."),
]


@pytest.mark.parametrize("args,says", HYDRA_BAD, ids=[" ".join(a) for a, _ in HYDRA_BAD])
def test_hydra_composition_errors_are_one_line_exit_2_and_write_nothing(args, says, tmp_path):
    (tmp_path / "a_file").write_text("x")
    dirs = [] if any(a.startswith("hydra.run.dir") for a in args) else [f"hydra.run.dir={tmp_path / 'run'}"]
    dirs += [] if any(a.startswith("hydra.sweep.dir") for a in args) else [f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *args, "logger=none", *dirs], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "WANDB_MODE": "disabled"})
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(errors) == 1 and errors[0].startswith(says), proc.stderr
    assert [p.name for p in tmp_path.rglob("*")] == ["a_file"]


def test_backbone_weights_with_nan_are_one_line_and_write_nothing(tmp_path):
    """A state_dict of the right shapes holding a NaN (a diverged training) once gave a results.json at chance."""
    from eexit.models.backbones import cifar_resnet
    state = cifar_resnet(20, num_classes=10).state_dict()
    next(v for v in state.values() if v.is_floating_point()).view(-1)[0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    cfg = compose_cfg(TINY + ["method=backbone", f"backbone.weights={tmp_path / 'nan.pt'}", f"cache_dir={tmp_path / 'c'}"])
    with pytest.raises(EExitError, match="nan.pt holds NaN or inf values") as err:
        run_experiment(cfg, tmp_path / "run")
    assert "\n" not in str(err.value) and not (tmp_path / "run" / "results.json").exists()


def test_a_finished_run_folder_is_never_written_again(tmp_path):
    done = tmp_path / "done"
    (done / ".hydra").mkdir(parents=True)
    (done / "results.json").write_text('{"format": "eexit-results/1"}')
    (done / ".hydra" / "config.yaml").write_text("seed: 7\n")
    before = {p: p.read_bytes() for p in done.rglob("*") if p.is_file()}
    proc = subprocess.run([sys.executable, "run.py", "logger=none", f"hydra.run.dir={done}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "WANDB_MODE": "disabled"})
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(errors) == 1 and "holds a finished run" in errors[0], proc.stderr
    assert {p: p.read_bytes() for p in done.rglob("*") if p.is_file()} == before


def test_a_loss_that_becomes_nan_stops_training_and_caches_nothing(tmp_path):
    cfg = compose_cfg(["data=synthetic", "data.train_size=256", "data.val_size=64", "data.test_size=64",
                       "backbone=resnet20", "pretrain.epochs=2", "pretrain.optimizer.lr=1e6", "method=backbone",
                       f"cache_dir={tmp_path / 'cache'}"])
    with pytest.raises(EExitError, match=r"became NaN or infinite in epoch [12];.*Lower pretrain.optimizer.lr") as err:
        run_experiment(cfg, tmp_path / "run")
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "cache").rglob("*.pt")) and not (tmp_path / "run" / "results.json").exists()


def test_a_damaged_or_foreign_cache_entry_is_rebuilt_with_a_warning(tmp_path, caplog):
    small = ["data=synthetic", "data.train_size=256", "data.val_size=64", "data.test_size=64", "backbone=resnet20",
             "pretrain.epochs=1", "method=backbone", f"cache_dir={tmp_path / 'cache'}"]
    first = run_experiment(compose_cfg(small), tmp_path / "a")
    (entry,) = (tmp_path / "cache" / "backbones").glob("*.pt")
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])                                   # truncated
    again = run_experiment(compose_cfg(small), tmp_path / "b")
    assert again["backbone_source"] == "trained" and again["backbone_test_acc"] == first["backbone_test_acc"]
    assert any("unreadable" in r.message for r in caplog.records)
    other = run_experiment(compose_cfg(small + ["seed=1"]), tmp_path / "c")     # another key's entry
    (foreign,) = [p for p in (tmp_path / "cache" / "backbones").glob("*.pt") if p != entry]
    entry.write_bytes(foreign.read_bytes())
    caplog.clear()
    rebuilt = run_experiment(compose_cfg(small), tmp_path / "d")
    assert rebuilt["backbone_source"] == "trained" and other["backbone_source"] == "trained"
    assert any("stored under another key" in r.message for r in caplog.records)
    assert run_experiment(compose_cfg(small), tmp_path / "e")["backbone_source"] == "cache"
    raw = bytearray(entry.read_bytes())                                         # 256 bytes flipped in the weights
    middle = len(raw) // 2
    raw[middle:middle + 256] = bytes(b ^ 0x55 for b in raw[middle:middle + 256])
    entry.write_bytes(bytes(raw))
    caplog.clear()
    flipped = run_experiment(compose_cfg(small), tmp_path / "f")
    assert flipped["backbone_source"] == "trained" and flipped["backbone_test_acc"] == first["backbone_test_acc"]
    said = [r.message for r in caplog.records if "backbone cache" in r.message and "training it again" in r.message]
    assert len(said) == 1 and "fail their checksum" in said[0], said           # said once, not once per look


def one_line_exit_2(main, argv: list[str], capsys) -> str:
    """``main(argv)`` (the command's own entry point, in this process) returns 2 with one line on stderr."""
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1, errors
    return errors[0]


def test_export_of_a_damaged_or_foreign_file_or_into_a_file_is_one_line(tmp_path, capsys):
    import pickle

    from eexit.deploy.export import main
    (tmp_path / "truncated.pt").write_bytes(b"PK\x03\x04 half a zip")
    (tmp_path / "pickle.pt").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    torch.save({"weights": torch.ones(3)}, tmp_path / "foreign.pt")
    (tmp_path / "a_file").write_text("x")
    out = str(tmp_path / "out")
    for name in ("truncated.pt", "pickle.pt"):
        assert "cannot be read as a checkpoint" in one_line_exit_2(main, [str(tmp_path / name), out], capsys)
    assert "is not an eexit exit-network checkpoint" in one_line_exit_2(main, [str(tmp_path / "foreign.pt"), out], capsys)
    assert "a_file is a file" in one_line_exit_2(main, [str(tmp_path / "truncated.pt"), str(tmp_path / "a_file")], capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content,says", [("{not json", "is not valid JSON"), ("[1, 2]", "is not an eexit results.json")])
def test_aggregating_a_corrupt_results_file_is_one_line(tmp_path, content, says, capsys):
    from eexit.cli.aggregate import main
    (tmp_path / "sweep" / "0").mkdir(parents=True)
    (tmp_path / "sweep" / "0" / "results.json").write_text(content)
    line = one_line_exit_2(main, [str(tmp_path / "sweep")], capsys)
    assert says in line and "0/results.json" in line
    assert sorted(p.name for p in (tmp_path / "sweep").rglob("*")) == ["0", "results.json"]   # nothing written


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    import errno
    import shutil
    from collections import namedtuple

    from eexit.files.disk_full import full_disk_line, remove_partial
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "run.log").write_text("")
    (run_dir / "config.yaml").write_text("")
    (run_dir / "checkpoints" / f".boosted.pt.{os.getpid()}.tmp").write_bytes(b"x" * 1000)
    (run_dir / "plan.json").write_text("{}")
    (cache / "backbones").mkdir(parents=True)
    (cache / "backbones" / f".r20-x.pt.{os.getpid()}.tmp").write_bytes(b"x" * 1000)
    (cache / "backbones" / ".r20-y.pt.1.tmp").write_bytes(b"another job's, still writing")
    enospc = OSError(errno.ENOSPC, "No space left on device")
    line = full_disk_line(enospc, [run_dir, cache], needed=2_500_000_000)
    assert line.startswith(f"the disk holding {run_dir} is full (") and "the rest of the run needs about 2.5 GB there" in line
    torch_says = RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 19840 vs 19732")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 << 30, 10 << 30, 5 << 20))   # 5 MB free
    assert "is full (5.2 MB free)" in full_disk_line(torch_says, [run_dir])
    assert full_disk_line(ValueError("a bug"), [run_dir]) is not None   # nearly full: said so whatever failed
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 << 30, 1 << 30, 9 << 30))
    assert full_disk_line(ValueError("a bug"), [run_dir]) is None       # room on the disk: a bug, not this
    remove_partial(run_dir, cache)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [".r20-y.pt.1.tmp", "plan.json"]
