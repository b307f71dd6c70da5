"""BoostedTraining: one fit, head k trains on exactly the survivors of heads < k, everything
else stays frozen, and a run resumed from a mid-stage checkpoint ends as an uninterrupted one."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from eexit.data.features import FeatureDataModule
from eexit.errors import EExitError
from eexit.exits import ClassPrecisionMargin
from eexit.exits.rule import passes
from eexit.models.early_exit import build_exit_net
from eexit.models.heads import Conv1dHead
from eexit.training import BoostedTraining, EarlyExitModule, ExitCrossEntropy
from tests.conftest import TINY, compose_cfg, reading

ROOT = Path(__file__).resolve().parents[1]
ATTACH, EPOCHS = [3, 5, 7], 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Digits and a ResNet20 trained for 2 epochs (through the pipeline's backbone stage)."""

    from eexit.pipeline.backbone import BackboneStage
    from eexit.pipeline.compose import compose
    cache = tmp_path_factory.mktemp("boosted")
    parts = compose(compose_cfg(TINY + [f"cache_dir={cache}"]))
    L.seed_everything(0, verbose=False)
    dm = parts.dm
    dm.setup()
    backbone, _ = BackboneStage(parts.source, dm, parts.trainers, torch.device("cpu")).obtain()
    return dm, backbone, cache


def boosted_fit(trained, callbacks=(), ckpt_path=None, min_pool=32, survivors="in_sample"):
    dm, backbone, cache = trained
    torch.manual_seed(0)
    net = build_exit_net(backbone, ATTACH, functools.partial(Conv1dHead, width=16), 10, (3, 32, 32))
    module = EarlyExitModule(net, ExitCrossEntropy(), functools.partial(torch.optim.Adam, lr=1e-3),
                             targets="backbone", prefix="boosted")
    boost = BoostedTraining(ClassPrecisionMargin(margin=0.05), epochs_per_stage=EPOCHS, min_pool=min_pool,
                            survivors=survivors)
    data = FeatureDataModule(dm, net, cache_dir=cache, batch_size=128, seed=0)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False,   # the callback sets epochs x heads itself
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
                        callbacks=[boost, *callbacks])
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    return module, boost, data


class Spy(L.Callback):
    """Records, every epoch, the training indices served and a snapshot of the network."""

    def __init__(self):
        self.pools, self.states = [], []

    def on_train_epoch_start(self, trainer, pl_module):
        self.pools.append(trainer.train_dataloader.indices.clone())
        self.states.append({k: v.clone() for k, v in pl_module.net.state_dict().items()})


def test_stage_k_trains_on_the_survivors_of_earlier_heads_and_nothing_else_moves(trained):
    spy = Spy()
    module, boost, data = boosted_fit(trained, [spy])
    net, thresholds = module.net.eval(), boost.thresholds
    assert module.trainer.max_epochs == boost.max_epochs(3) == 3 * EPOCHS
    assert not torch.isnan(thresholds).any() and len(boost.stages) == 3 and len(spy.pools) == 3 * EPOCHS
    feats = data.data["train"].feats
    keep = torch.ones(len(data.data["train"].labels), dtype=torch.bool)
    for k in range(3):
        expected = keep.nonzero().squeeze(1)
        for epoch in range(k * EPOCHS, (k + 1) * EPOCHS):   # every epoch of stage k serves exactly these samples
            assert torch.equal(spy.pools[epoch], expected), (k, epoch)
        assert boost.stages[k]["train_pool"] == len(expected)
        with torch.no_grad():   # recomputed independently from the frozen head and its thresholds
            out = net.heads[k](feats[k].float())
        keep &= ~passes(out.logits.softmax(1).amax(1), out.logits.argmax(1), thresholds[k])
    assert len(spy.pools[-1]) < len(spy.pools[0])
    # through stage k only head k moves: the backbone (BN statistics included) and every other head stay put
    final = module.net.state_dict()
    for epoch in range(1, len(spy.states)):
        k = epoch // EPOCHS
        before, after = spy.states[epoch - 1], (spy.states[epoch] if epoch < len(spy.states) else final)
        for name, value in before.items():
            moving = name.startswith(f"heads.{k}.") or (epoch % EPOCHS == 0 and name.startswith(f"heads.{k - 1}."))
            if not moving:
                assert torch.equal(value, after[name]), (epoch, name)
    assert any("running_mean" in n and n.startswith("backbone.") for n in final)


def test_thresholds_equal_calibrating_the_trained_heads_in_sequence(trained):
    """The stage-by-stage thresholds are CPM's on the final heads (what the evaluation recomputes)."""
    from eexit.exits import CachedExits
    module, boost, data = boosted_fit(trained)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    val = CachedExits.cat(trainer.predict(module, dataloaders=data.loader("val")))
    assert torch.equal(ClassPrecisionMargin(margin=0.05).thresholds(val), boost.thresholds)
    assert torch.equal(boost.policy.thresholds, boost.thresholds)


class Crash(L.Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("crash_at,survivors", [(3, "in_sample"), (2, "in_sample"), (3, "soft"), (3, "cross_fit")])
def test_resumed_run_ends_as_an_uninterrupted_one(trained, tmp_path, crash_at, survivors):
    """3: mid-stage 1 (resume from epoch 2); 2: at a stage boundary; soft and cross_fit carry more state."""
    whole, whole_boost, _ = boosted_fit(trained, survivors=survivors)
    ckpt = ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", save_top_k=-1, save_on_train_epoch_end=True)
    with pytest.raises(RuntimeError, match="simulated crash"):
        boosted_fit(trained, [ckpt, Crash(crash_at)], survivors=survivors)
    resumed, boost, _ = boosted_fit(trained, [ModelCheckpoint(dirpath=tmp_path / "again", save_on_train_epoch_end=True)],
                                    ckpt_path=tmp_path / f"epoch={crash_at - 1}.ckpt", survivors=survivors)
    assert torch.equal(boost.thresholds, whole_boost.thresholds)
    strip = lambda stages: [{k: v for k, v in s.items() if k != "seconds"} for s in stages]  # noqa: E731
    assert strip(boost.stages) == strip(whole_boost.stages)
    for name, value in whole.net.state_dict().items():
        assert torch.equal(value, resumed.net.state_dict()[name]), name


def test_checkpoints_must_be_taken_at_the_end_of_training_epochs(trained, tmp_path):
    with pytest.raises(EExitError, match="save_on_train_epoch_end=True"):
        boosted_fit(trained, [ModelCheckpoint(dirpath=tmp_path, save_on_train_epoch_end=False)])


def test_stages_with_too_few_survivors_are_skipped(trained):
    module, boost, data = boosted_fit(trained, min_pool=1000)   # digits: 1077 training samples
    trained_flags = [s["trained"] for s in boost.stages]
    assert trained_flags[0] and len(trained_flags) == 3 and not all(trained_flags)
    assert not torch.isnan(boost.thresholds).any()


def test_features_on_disk_are_reused_by_another_process(trained, tmp_path):
    dm, backbone, cache = trained
    data = FeatureDataModule(dm, reading(backbone, ATTACH), cache_dir=tmp_path)
    data.setup()
    assert len(data.extracted) == 3 * 5            # 3 splits x (3 blocks, final logits, labels)
    files = sorted((tmp_path / "features").rglob("*.npy"))
    assert len(files) == 3 * 5
    stamps = [f.stat().st_mtime_ns for f in files]
    weights = tmp_path / "backbone.pt"
    torch.save(backbone.state_dict(), weights)
    script = f"""
import json, torch
from eexit.data import DigitsDataModule
from types import SimpleNamespace
from eexit.data.features import FeatureDataModule
from eexit.models.backbones import cifar_resnet
dm = DigitsDataModule(val_size=360, test_size=360, seed=0, crop_padding=2, flip=False, batch_size=64, eval_batch_size=512)
net = SimpleNamespace(backbone=cifar_resnet(20, weights={str(weights)!r}), attach={ATTACH}, heads=[None] * 3)
data = FeatureDataModule(dm, net, cache_dir={str(tmp_path)!r})
data.setup()
print(json.dumps({{"extracted": data.extracted, "train": data.data["train"].feats[0].sum().item()}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    other = json.loads(proc.stdout.strip().splitlines()[-1])
    assert other["extracted"] == []                # everything loaded from disk, nothing recomputed
    assert other["train"] == pytest.approx(data.data["train"].feats[0].sum().item(), rel=1e-6)
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_a_checkpoint_of_the_module_loads_back_with_load_from_checkpoint(trained, tmp_path):
    """``save_hyperparameters``: the settings come from the checkpoint, the weights into the network given
    (objects are not pickled, so the file loads with torch's ``weights_only=True``)."""
    module, _, data = boosted_fit(trained, [ModelCheckpoint(dirpath=tmp_path, save_on_train_epoch_end=True,
                                                            save_last=True)])
    torch.manual_seed(1)   # another initialisation: every weight must come from the file
    net = build_exit_net(trained[1], ATTACH, functools.partial(Conv1dHead, width=16), 10, (3, 32, 32))
    back = EarlyExitModule.load_from_checkpoint(tmp_path / "last.ckpt", net=net, loss=ExitCrossEntropy(),
                                                weights_only=True)
    batch = next(iter(data.loader("val", batch_size=64)))
    assert back.prefix == "boosted" and back.targets == "backbone"
    with torch.no_grad():
        for a, b in zip(module.eval().exit_outputs(batch)[0], back.eval().exit_outputs(batch)[0]):
            assert torch.equal(a, b)


def test_the_module_receives_features_whether_stored_or_computed_on_the_fly(trained):
    """One batch contract: with ``store=False`` the DataModule runs the frozen backbone on each batch, so the
    module gets the same ``FeatureBatch`` (and the same outputs) as from stored features."""
    from eexit.data.feature_batch import FeatureBatch
    from eexit.exits import CachedExits
    dm, backbone, cache = trained
    torch.manual_seed(0)
    net = build_exit_net(backbone, ATTACH, functools.partial(Conv1dHead, width=16), 10, (3, 32, 32))
    seen, outputs = [], {}

    class Spy(EarlyExitModule):
        def training_step(self, batch, batch_idx):
            seen.append(type(batch))
            return super().training_step(batch, batch_idx)

    runs = []
    for store in (True, False):
        data = FeatureDataModule(dm, net, cache_dir=cache, dtype="float32", store=store, batch_size=256)
        module = Spy(net, ExitCrossEntropy(), functools.partial(torch.optim.Adam, lr=0.0), targets="backbone")
        trainer = L.Trainer(max_epochs=1, limit_train_batches=2, accelerator="cpu", logger=False,
                            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                            num_sanity_val_steps=0, limit_val_batches=0)
        outputs[store] = [CachedExits.cat(b) for b in trainer.predict(module, datamodule=data)]
        runs.append((trainer, module, data))
    for trainer, module, data in runs:   # after predicting: training moves the heads' BatchNorm statistics
        trainer.fit(module, datamodule=data)
    assert seen == [FeatureBatch] * 4
    for stored, on_the_fly in zip(outputs[True], outputs[False]):
        torch.testing.assert_close(stored.logits, on_the_fly.logits, rtol=1e-5, atol=1e-5)
