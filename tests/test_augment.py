"""Batched augmentation: bounds, padding value, flip rate, labels stay with their images."""
from __future__ import annotations

import torch

from eexit.data.augment import normalize, random_crop, random_flip
from eexit.data.loader import TensorBatchLoader


def test_crop_stays_in_bounds_and_pads_with_fill():
    x = torch.full((500, 3, 8, 8), 200, dtype=torch.uint8)
    out = random_crop(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert set(out.unique().tolist()) <= {0, 200}
    # every crop keeps at least a 6x6 block of the original
    assert ((out == 200).flatten(1).sum(1) >= 3 * 36).all()
    mean_fill = random_crop(x, 2, torch.Generator().manual_seed(0), fill=torch.tensor([1.0, 2.0, 3.0]))
    assert set(mean_fill[:, 1].unique().tolist()) <= {2, 200}


def test_crop_is_a_shift():
    x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = random_crop(x, 1, torch.Generator().manual_seed(1))
    for img in out[:, 0]:
        inner = img[1:3, 1:3]  # always inside the original for padding 1
        r, c = divmod(int(inner[0, 0]), 4)
        assert torch.equal(inner, x[0, 0, r:r + 2, c:c + 2])


def test_flip_rate_and_content():
    x = torch.arange(4, dtype=torch.float32).view(1, 1, 1, 4).repeat(4000, 1, 1, 1)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == 3)
    assert 0.46 < flipped.float().mean() < 0.54
    assert torch.equal(out[flipped][0, 0, 0], torch.tensor([3.0, 2, 1, 0]))


def test_labels_stay_attached():
    n = 50
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    loader = TensorBatchLoader(images, torch.arange(n), 8, torch.zeros(3), torch.ones(3) / 255,
                               shuffle=True, crop_padding=0, flip=True, seed=3)
    seen = []
    for x, y in loader:
        assert torch.equal(x[:, 0, 0, 0].round().long(), y)
        seen += y.tolist()
    assert sorted(seen) == list(range(n))


def test_with_index_names_each_sample():
    n = 30
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2).contiguous()
    loader = TensorBatchLoader(images, torch.arange(n) * 7, 8, torch.zeros(3), torch.ones(3) / 255,
                               shuffle=True, drop_last=True, seed=5, with_index=True)
    for x, y, idx in loader:
        assert torch.equal(y, idx * 7) and torch.equal(x[:, 0, 0, 0].round().long(), idx)


def test_epoch_draws_equal_drawing_batch_by_batch():
    """The loader draws an epoch's crops and flips up front (one device copy); the numbers are
    those of drawing them batch by batch from the same generator."""
    n, bs, seed = 37, 8, 4
    images = torch.randint(0, 256, (n, 3, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mean, std = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.5, 0.5, 0.5])
    loader = TensorBatchLoader(images, torch.arange(n), bs, mean, std, shuffle=True, crop_padding=2, flip=True,
                               seed=seed, pad_fill="mean")
    got = list(loader)
    gen = torch.Generator().manual_seed(seed * 100003)
    order = torch.randperm(n, generator=gen)
    fill = (mean * 255).round()
    assert len(got) == 5 and got[-1][0].shape[0] == 5
    for i, (x, y) in enumerate(got):
        idx = order[i * bs:(i + 1) * bs]
        want = random_flip(random_crop(images[idx], 2, gen, fill=fill), gen)
        assert torch.equal(y, idx) and torch.equal(x, normalize(want, mean, std))


def test_normalize():
    x = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    out = normalize(x, torch.tensor([0.5] * 3), torch.tensor([0.25] * 3))
    assert torch.allclose(out[:, 0, 0, 0], torch.tensor([-2.0, 2.0]))
