"""Readers on tiny fixtures written in each dataset's exact on-disk format."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from eexit.data import CIFAR10DataModule, CINIC10DataModule, DigitsDataModule, SVHNDataModule
from eexit.data.base import holdout
from eexit.errors import DatasetNotFoundError


def cifar_fixture(root, per_batch=4):
    """Pickled batches: image j of batch b has R=b*10+j, G=100+j, B=200+j; pixel (1,2) of R is 7."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for b, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data = np.zeros((per_batch, 3072), dtype=np.uint8)
        for j in range(per_batch):
            data[j, :1024], data[j, 1024:2048], data[j, 2048:] = b * 10 + j, 100 + j, 200 + j
            data[j, 1 * 32 + 2] = 7  # R channel, row 1, column 2
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": [(b + j) % 10 for j in range(per_batch)]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CIFAR10DataModule.classes)}, f)


def test_cifar10_pixels_channels_labels(tmp_path, fixture_files_pass_md5):
    cifar_fixture(tmp_path)
    dm = CIFAR10DataModule(root=str(tmp_path), val_size=5)
    splits = dm.read_splits()
    x, y = splits["train"]
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.uint8
    assert x[1, 0, 0, 0] == 1 and x[1, 1, 0, 0] == 101 and x[1, 2, 0, 0] == 201
    assert x[6, 0, 5, 5] == 12  # batch 2, image 1
    assert x[0, 0, 1, 2] == 7 and x[0, 0, 2, 1] == 0  # row-major: (row 1, col 2), not transposed
    assert y[:4].tolist() == [0, 1, 2, 3] and y[4:8].tolist() == [1, 2, 3, 4]
    xt, yt = splits["test"]
    assert xt[0, 0, 0, 0] == 50 and yt.tolist() == [5, 6, 7, 8]
    dm.setup()
    assert dm.splits["val"][0].shape[0] == 5 and dm.splits["train"][0].shape[0] == 15


def test_svhn_mat_label_10_is_zero(tmp_path, fixture_files_pass_md5):
    n = 6
    X = np.zeros((32, 32, 3, n), dtype=np.uint8)
    for i in range(n):
        X[:, :, 0, i], X[:, :, 1, i], X[:, :, 2, i] = i, 50 + i, 100 + i
    X[3, 4, 1, 0] = 255  # row 3, column 4, green
    y = np.array([[10], [1], [2], [10], [9], [5]], dtype=np.uint8)
    for name in ("train_32x32.mat", "test_32x32.mat"):
        scipy.io.savemat(tmp_path / name, {"X": X, "y": y})
    x, labels = SVHNDataModule(root=str(tmp_path), val_size=2).read_splits()["train"]
    assert x.shape == (n, 3, 32, 32)
    assert labels.tolist() == [0, 1, 2, 0, 9, 5]
    assert x[2, 0, 0, 0] == 2 and x[2, 1, 0, 0] == 52 and x[2, 2, 0, 0] == 102
    assert x[0, 1, 3, 4] == 255 and x[0, 1, 4, 3] == 50


def test_cinic10_png_folders(tmp_path):
    classes = CINIC10DataModule.classes
    for split in ("train", "valid", "test"):
        for c, name in enumerate(classes[:3]):
            (tmp_path / split / name).mkdir(parents=True)
            img = np.zeros((32, 32, 3), dtype=np.uint8)
            img[..., 0], img[..., 1], img[..., 2] = 10 * c, 20 + c, 30 + c
            img[0, 5] = (255, 0, 0)
            Image.fromarray(img).save(tmp_path / split / name / f"cifar-10-train-{c}.png")
        for name in classes[3:]:
            (tmp_path / split / name).mkdir(parents=True)
    # a greyscale PNG (CINIC-10 has some) becomes 3 equal channels
    Image.fromarray(np.full((32, 32), 77, dtype=np.uint8), mode="L").save(tmp_path / "test" / "truck" / "g.png")
    dm = CINIC10DataModule(root=str(tmp_path))
    dm.setup()
    x, y = dm.splits["train"]
    assert x.shape == (3, 3, 32, 32) and y.tolist() == [0, 1, 2]
    assert x[2, 0, 1, 1] == 20 and x[2, 1, 1, 1] == 22 and x[2, 2, 1, 1] == 32
    assert x[0, :, 0, 5].tolist() == [255, 0, 0]
    xt, yt = dm.splits["test"]
    assert yt.tolist() == [0, 1, 2, 9] and xt[3, :, 0, 0].tolist() == [77, 77, 77]
    assert (tmp_path / ".decoded-train.pt").is_file()  # decoded once, reused
    again = CINIC10DataModule(root=str(tmp_path))
    again.setup()
    assert torch.equal(again.splits["train"][0], x)
    # an image replaced, the count unchanged: the decoded file is stale and rebuilt
    img = np.full((32, 32, 3), 99, dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "train" / classes[0] / "cifar-10-train-0.png")
    os.utime(tmp_path / "train" / classes[0] / "cifar-10-train-0.png", ns=(1, 1))
    changed = CINIC10DataModule(root=str(tmp_path))
    changed.setup()
    assert changed.splits["train"][0][0, :, 0, 0].tolist() == [99, 99, 99]
    # a truncated decoded file is decoded again, not trusted
    cache = tmp_path / ".decoded-train.pt"
    cache.write_bytes(cache.read_bytes()[:100])
    healed = CINIC10DataModule(root=str(tmp_path))
    healed.setup()
    assert torch.equal(healed.splits["train"][0], changed.splits["train"][0])
    assert torch.load(cache)["images"].shape == (3, 3, 32, 32)


@pytest.mark.parametrize("cls,expected", [(CIFAR10DataModule, "cifar-10-batches-py"), (SVHNDataModule, "svhn"),
                                          (CINIC10DataModule, "cinic")])
def test_missing_data_names_path_and_fix(tmp_path, cls, expected):
    root = tmp_path / ("svhn" if cls is SVHNDataModule else "cinic")
    with pytest.raises(DatasetNotFoundError) as err:
        cls(root=str(root)).setup()
    msg = str(err.value)
    assert "\n" not in msg and expected in msg and "set root=<folder> or add download=true" in msg   # from Python: the argument


def test_holdout_is_fixed_and_disjoint():
    x = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1).expand(100, 3, 2, 2)
    split = (x, torch.arange(100))
    (r1, v1), (r2, v2) = holdout(split, 10, 3), holdout(split, 10, 3)
    assert torch.equal(v1[1], v2[1]) and v1[1].numel() == 10
    assert set(r1[1].tolist()).isdisjoint(v1[1].tolist()) and len(r1[1]) == 90
    assert not torch.equal(holdout(split, 10, 4)[1][1], v1[1])


def test_digits_real_images():
    dm = DigitsDataModule(val_size=100, test_size=200)
    dm.setup()
    x, y = dm.splits["train"]
    assert x.shape[1:] == (3, 32, 32) and x.shape[0] == 1797 - 300
    assert torch.equal(x[:, 0], x[:, 1]) and set(y.tolist()) == set(range(10))
    assert dm.splits["test"][0].shape[0] == 200 and not dm.flip
    xb, yb = next(iter(dm.loader("train", train=True)))
    assert xb.dtype == torch.float32 and xb.shape == (128, 3, 32, 32) and yb.shape == (128,)


def pin_fixture_md5(monkeypatch, reader, root):
    """Register the fixture files' own md5 as the official ones, so a later change to a file is
    caught exactly as torchvision catches a damaged download."""
    from torchvision.datasets.utils import calculate_md5
    folder = root / reader.base_folder
    for attr in ("train_list", "test_list"):
        monkeypatch.setattr(reader, attr, [[n, calculate_md5(str(folder / n))] for n, _ in getattr(reader, attr)])
    monkeypatch.setattr(reader, "meta", {**reader.meta, "md5": calculate_md5(str(folder / reader.meta["filename"]))})


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(p.read_bytes()[:300]),                                        # truncated
    lambda p: p.write_bytes(pickle.dumps({"data": np.zeros((4, 3072), np.uint8)})),      # replaced
])
def test_a_damaged_cifar_batch_names_the_file_and_the_fix(tmp_path, monkeypatch, damage):
    from torchvision.datasets import CIFAR10

    from eexit.errors import EExitError
    cifar_fixture(tmp_path)
    pin_fixture_md5(monkeypatch, CIFAR10, tmp_path)
    assert CIFAR10DataModule(root=str(tmp_path), val_size=5).read_splits()["train"][0].shape[0] == 20
    damage(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(EExitError, match="data_batch_3 is damaged") as err:
        CIFAR10DataModule(root=str(tmp_path), val_size=5).read_splits()
    assert "(download=true)" in str(err.value) and "\n" not in str(err.value)


def test_cinic10_bad_images_and_folders_name_the_file(tmp_path):
    from eexit.data.cinic10 import read_folder
    from eexit.errors import EExitError
    classes = CINIC10DataModule.classes
    for name in classes:
        (tmp_path / "train" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / "train" / name / "a.png")
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")      # ignored, counted in the log
    assert read_folder(tmp_path / "train")[0].shape == (10, 3, 32, 32)
    (tmp_path / "train" / "dog" / "b.png").write_bytes(b"garbage")
    with pytest.raises(EExitError, match=r"dog/b.png is not a readable image"):
        read_folder(tmp_path / "train")
    Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(tmp_path / "train" / "dog" / "b.png")
    with pytest.raises(EExitError, match=r"dog/b.png is 16x16, CINIC-10 images are 32x32"):
        read_folder(tmp_path / "train")
    (tmp_path / "train" / "dog" / "b.png").unlink()
    (tmp_path / "train" / "ship" / "a.png").unlink()
    (tmp_path / "train" / "ship").rmdir()
    with pytest.raises(EExitError, match="has no class folder ship"):
        read_folder(tmp_path / "train")


def test_cifar100_fine_labels_and_pixels(tmp_path, fixture_files_pass_md5):
    from eexit.data import CIFAR100DataModule
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 6), ("test", 3)):
        data = np.zeros((n, 3072), dtype=np.uint8)
        for j in range(n):
            data[j, :1024], data[j, 1024:2048], data[j, 2048:] = j, 100 + j, 200 + j
        data[0, 2 * 32 + 5] = 9                      # R channel, row 2, column 5
        entry = {"data": data, "fine_labels": [(17 * j + 3) % 100 for j in range(n)], "coarse_labels": [0] * n}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, f)
    dm = CIFAR100DataModule(root=str(tmp_path), val_size=2)
    splits = dm.read_splits()
    x, y = splits["train"]
    assert dm.num_classes == 100 and x.shape == (6, 3, 32, 32)
    assert y.tolist() == [3, 20, 37, 54, 71, 88] and splits["test"][1].tolist() == [3, 20, 37]
    assert x[4, :, 0, 0].tolist() == [4, 104, 204] and x[0, 0, 2, 5] == 9 and x[0, 0, 5, 2] == 0


def write_idx(path, array: np.ndarray) -> None:
    """The MNIST idx format: magic (0x08 = ubyte, then the number of dimensions), big-endian sizes, data."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files_grey_to_three_channels(tmp_path):
    from eexit.data import MNISTDataModule
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 8), ("t10k", 4)):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i in range(n):
            images[i] = 10 * i
        images[0, 3, 20] = 255                       # row 3, column 20
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n)[::-1] % 10)
    dm = MNISTDataModule(root=str(tmp_path), val_size=2)
    dm.setup()
    assert dm.image_shape == (3, 28, 28)
    x, y = dm.read_splits()["train"]
    assert x.shape == (8, 3, 28, 28) and y.tolist() == [7, 6, 5, 4, 3, 2, 1, 0]
    assert torch.equal(x[:, 0], x[:, 2]) and x[5, 1, 10, 10] == 50
    assert x[0, 0, 3, 20] == 255 and x[0, 0, 20, 3] == 0
    assert dm.read_splits()["test"][1].tolist() == [3, 2, 1, 0]
    with pytest.raises(DatasetNotFoundError, match="MNIST not found.*t10k-labels-idx1-ubyte"):
        (raw / "t10k-labels-idx1-ubyte").unlink()
        MNISTDataModule(root=str(tmp_path)).read_splits()
