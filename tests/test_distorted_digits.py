"""The default data: digits split by source image, then distorted, reproducibly."""
import torch

from eexit.data import DigitsDataModule, DistortedDigitsDataModule
from eexit.data.digits import load_digits_32
from eexit.data.distorted_digits import distort


def test_splits_share_no_source_and_test_never_moves_with_seed():
    a, b = DistortedDigitsDataModule(seed=0, copies=2), DistortedDigitsDataModule(seed=1, copies=2)
    a.setup(), b.setup()
    src = a.sources
    assert {k: len(v) for k, v in src.items()} == {"train": 1077, "val": 360, "test": 360}
    assert len(set(src["train"].tolist()) | set(src["val"].tolist()) | set(src["test"].tolist())) == 1797
    assert {k: a.num_samples(k) for k in src} == {"train": 2154, "val": 720, "test": 720}
    assert torch.equal(a.splits["test"][0], b.splits["test"][0]) and torch.equal(src["test"], b.sources["test"])
    assert not torch.equal(src["val"], b.sources["val"])
    # the test sources are the plain digits module's test images: one fixed hold-out for both
    plain = DigitsDataModule(seed=0)
    plain.setup()
    x, y = load_digits_32()
    assert torch.equal(x[src["test"]], plain.splits["test"][0]) and torch.equal(y[src["test"]], plain.splits["test"][1])


def test_every_image_is_its_source_distorted_the_same_way_each_time():
    dm = DistortedDigitsDataModule(seed=0, copies=2)
    dm.setup()
    x, y = load_digits_32()
    val, n = dm.sources["val"], len(dm.sources["val"])
    for copy in range(2):
        images = dm.splits["val"][0][copy * n:(copy + 1) * n]
        assert torch.equal(images, distort(x[val], val, copy, dm.skew))
        assert torch.equal(dm.splits["val"][1][copy * n:(copy + 1) * n], y[val])
    # an image depends on its source and copy only, not on which other images are made with it
    assert torch.equal(distort(x[val[:3]], val[:3], 1, dm.skew), dm.splits["val"][0][n:n + 3])
    assert not torch.equal(dm.splits["val"][0][:n], dm.splits["val"][0][n:])


def test_a_mix_of_mild_and_severe_images():
    dm = DistortedDigitsDataModule(seed=0)
    dm.setup()
    x, _ = load_digits_32()
    src = dm.sources["train"]
    change = (dm.splits["train"][0][:len(src)].float() - x[src].float()).abs().mean((1, 2, 3))
    assert (change < 16).float().mean() > 0.2 and (change > 60).float().mean() > 0.2   # grey levels 0..255
