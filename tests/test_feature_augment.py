"""``method.feature_augment``: heads on a frozen backbone train on features of augmented images, computed every
epoch, while validation, test and the survivor decisions read the stored features."""
from __future__ import annotations

import json

import pytest
import torch

from eexit.data import SyntheticDataModule
from eexit.data.extract import features_of
from eexit.data.feature_batch import FeatureBatch
from eexit.models.backbones import cifar_resnet
from eexit.pipeline import run_experiment
from tests.conftest import TINY, compose_cfg, reading

ATTACH = [3, 5]


def epoch_features(data, epoch: int) -> dict[int, torch.Tensor]:
    """Block-3 features of every training sample served in ``epoch``, by index (images through the backbone)."""
    loader = data.train_dataloader()
    loader.set_epoch(epoch)
    out = {}
    for batch in loader:
        if isinstance(batch, FeatureBatch):
            feats, idx = batch.feats[0], batch.idx
        else:
            x, _, idx = batch
            feats = features_of(data.backbone, x, data.attach, data.reductions)[0][0]
        out.update({int(i): f for i, f in zip(idx, feats)})
    return out


def test_augmented_epochs_differ_from_the_store_and_repeat_per_epoch(tmp_path):
    from eexit.data.features import FeatureDataModule
    torch.manual_seed(0)
    backbone = cifar_resnet(20, num_classes=10).eval()

    def data(crop_padding, flip, augment, cache):
        dm = SyntheticDataModule(train_size=96, val_size=32, test_size=32, seed=0, crop_padding=crop_padding, flip=flip)
        d = FeatureDataModule(dm, reading(backbone, ATTACH, (4, 4)), cache_dir=cache, dtype="float32",
                              augment=augment, batch_size=32, seed=1)
        d.setup()
        return d

    stored = epoch_features(data(4, True, False, tmp_path / "a"), 0)
    # the identity augmentation: the per-epoch path computes what the store holds (two paths, one answer)
    same = epoch_features(data(0, False, True, tmp_path / "b"), 0)
    assert sorted(same) == sorted(stored) == list(range(96))
    for i in stored:
        torch.testing.assert_close(same[i], stored[i], rtol=1e-4, atol=1e-4)
    crop = data(4, True, True, tmp_path / "c")
    first, again, second = epoch_features(crop, 0), epoch_features(crop, 0), epoch_features(crop, 1)
    moved = sum(not torch.allclose(first[i], stored[i], atol=1e-3) for i in stored)
    assert moved > 48                                            # most images are cropped off-centre or flipped
    assert all(torch.equal(first[i], again[i]) for i in first)   # an epoch's draws repeat (a resumed run's)
    assert sum(not torch.equal(first[i], second[i]) for i in first) > 48   # the next epoch draws anew
    # what is reported is never augmented: validation and test come from the store
    assert all(isinstance(b, FeatureBatch) for b in crop.val_dataloader())
    assert all(isinstance(b, FeatureBatch) for b in crop.predict_dataloader()[1])


@pytest.mark.slow   # 30 s end to end; the fast test above covers the augmented batches themselves
def test_a_run_with_augmented_head_training_plans_and_reports(tmp_path, monkeypatch):
    import eexit.data.features as features
    batches = []
    monkeypatch.setattr(features, "features_of", lambda *a: batches.append(a[1].shape[0]) or features_of(*a))
    over = TINY + ["method=bts", "method.feature_augment=true", f"cache_dir={tmp_path / 'cache'}"]
    plan = run_experiment(compose_cfg(over + ["plan=true"]), tmp_path / "plan").to_dict()
    # bts (cross_fit, 3 folds, and the non-boosted comparison): 4 units of 2 head epochs; each epoch is the heads'
    # steps plus a backbone pass over the training split at the measured forward rate
    n, rates = plan["images"]["train"], plan["rates"]
    want = 4 * 2 * (-(-n // 128) * rates["head_step_s"] + n / rates["backbone_images_per_s"])
    assert plan["seconds_by_phase"]["heads"] == pytest.approx(want, rel=1e-6)
    results = run_experiment(compose_cfg(over), tmp_path / "run")
    assert results["settings"]["method.feature_augment"] == "true"
    assert len(batches) > 4 * 2 * 10   # every training batch of every head epoch went through the backbone  # part of what makes a configuration
    for name in ("boosted", "nonboosted"):
        regime = results["regimes"][name]
        assert regime["real_skip_matches"] is True and all(0.0 <= a <= 1.0 for a in regime["exit_test_acc"])
