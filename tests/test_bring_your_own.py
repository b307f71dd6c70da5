"""Bringing one's own model and data, end to end: an image folder of 64x64 PNGs with a timm
backbone; a torchvision model's own weights file, used frozen as it is."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from eexit.deploy.checkpoint import load_exit_checkpoint
from eexit.pipeline import run_experiment
from tests.conftest import TINY, compose_cfg


def digits_folder(root, size=64, n=480, test=120):
    """scikit-learn's digits, upscaled to ``size`` x ``size`` RGB PNGs, in ``train/`` and ``test/``
    class folders named ``digit<k>``."""
    from sklearn.datasets import load_digits
    d = load_digits()
    order = np.random.default_rng(0).permutation(len(d.target))[:n]
    for rank, i in enumerate(order):
        folder = root / ("test" if rank < test else "train") / f"digit{d.target[i]}"
        folder.mkdir(parents=True, exist_ok=True)
        grey = Image.fromarray((d.images[i] / 16 * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
        grey.convert("RGB").save(folder / f"{i}.png")


def test_imagefolder_with_a_timm_backbone_end_to_end(tmp_path):
    import timm

    from eexit.deploy.export import ExportedExitNet, export_exit_net
    from eexit.costs.flops import count_macs
    digits_folder(tmp_path / "images")
    overrides = ["data=imagefolder", f"data.root={tmp_path / 'images'}", "data.val_size=60", "data.num_workers=0",
                 "backbone=timm", "backbone.model=resnet18", "method=bts"]
    cfg = compose_cfg(TINY + overrides, tmp_path)
    results = run_experiment(cfg, tmp_path / "run", overrides)
    assert results["dataset"] == "imagefolder" and results["backbone"] == "timm-resnet18"
    assert [b["name"] for b in results["blocks"]] == ["act1", "layer1", "layer2", "layer3", "layer4", "classifier"]
    reference = timm.create_model("resnet18", num_classes=10).eval()      # the cost model read 64x64 from the data
    assert results["backbone_macs"] == count_macs(reference, torch.zeros(1, 3, 64, 64))
    for name, regime in results["regimes"].items():
        assert regime["real_skip_matches"] is True, name
    # the saved checkpoint rebuilds the network for 64x64 images; its export infers exactly like it
    loaded = load_exit_checkpoint(tmp_path / "run" / "checkpoints" / "boosted.pt")
    assert loaded.meta["image_shape"] == [3, 64, 64]
    dm = instantiate(loaded.data)
    x, _ = next(iter(dm.loader("test")))
    exported = ExportedExitNet(export_exit_net(loaded.net, loaded.policy, tmp_path / "exp", (3, 64, 64), fold=False))
    got, want = exported.infer(x, exported.policy), loaded.net.infer(x, loaded.policy)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


@pytest.mark.slow   # 37 s: a torchvision ResNet end to end (test_library_backbones checks the staging)
def test_a_torchvision_weights_file_is_used_frozen_as_it_is(tmp_path):
    """The user's own trained torchvision model: loaded by ``backbone.weights``, not trained again,
    its test accuracy in results.json equal to the saved model's own."""
    import torchvision

    from eexit.data import DigitsDataModule
    dm = DigitsDataModule(val_size=360, test_size=360)
    torch.manual_seed(0)
    model = torchvision.models.get_model("resnet18", num_classes=10)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    model.train()
    for _ in range(2):
        for x, y, _ in dm.loader("train", train=True, batch_size=64, with_index=True):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(), loss.backward(), opt.step()
    model.eval()
    with torch.no_grad():
        own = sum((model(x).argmax(1) == y).sum().item() for x, y in dm.loader("test")) / dm.num_samples("test")
    assert 0.3 < own < 1.0                               # trained, so a wrong load would show
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    overrides = ["backbone=torchvision", "backbone.model=resnet18", f"backbone.weights={tmp_path / 'mine.pt'}",
                 "method=pteenet"]
    results = run_experiment(compose_cfg(TINY + overrides, tmp_path), tmp_path / "run", overrides)
    assert results["backbone_source"] == str(tmp_path / "mine.pt")
    assert results["backbone_test_acc"] == pytest.approx(own, abs=1e-12)
    loaded = load_exit_checkpoint(tmp_path / "run" / "checkpoints" / "pteenet.pt")   # rebuilt from the user's file
    with torch.no_grad():
        x, _ = next(iter(dm.loader("test")))
        assert torch.equal(loaded.net.backbone(x), model(x))


def test_a_streamed_dataset_trains_boosted_heads_on_images_through_the_frozen_backbone(tmp_path, caplog):
    """Data too large for memory streams from disk, and its features are not stored (ImageNet's would
    take terabytes): the heads read images through the frozen backbone, boosted stages included."""
    import logging
    digits_folder(tmp_path / "images", size=32, n=300, test=80)
    overrides = ["data=imagefolder", f"data.root={tmp_path / 'images'}", "data.image_size=32", "data.val_size=60",
                 "data.storage=stream", "data.num_workers=0", "method=bts"]
    caplog.set_level(logging.INFO)
    results = run_experiment(compose_cfg(TINY + overrides, tmp_path), tmp_path / "run", overrides)
    assert any("the data stream from disk, so features are not stored" in r.message for r in caplog.records)
    assert not (tmp_path / "cache" / "features").exists()
    boosted = results["regimes"]["boosted"]
    first, second = boosted["method"]["stages"][:2]
    assert boosted["real_skip_matches"] is True and first["trained"] and first["train_pool"] == 160
    assert second["train_pool"] == 160 - first["train_exited"]          # survivors tracked by split index
    assert results["regimes"]["nonboosted"]["real_skip_matches"] is True
