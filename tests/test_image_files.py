"""Datasets of image files: class folders, Tiny-ImageNet, ImageNet; in memory or streamed."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from eexit.data import ImageFolderDataModule, ImageNetDataModule, TinyImageNetDataModule
from eexit.errors import DatasetNotFoundError, EExitError


def solid(path, rgb, size=(64, 64), fmt=None):
    """An image of one colour (JPEG keeps a flat colour within a level or two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), rgb, dtype=np.uint8)).save(path, format=fmt)


def class_tree(root, splits=("train", "test"), classes=("cat", "dog", "emu"), per_class=4, size=(64, 64)):
    for s, split in enumerate(splits):
        for c, name in enumerate(classes):
            for i in range(per_class):
                solid(root / split / name / f"{i}.png", (40 * c + i, 100 + s, 200 - i), size)


def test_imagefolder_reads_classes_pixels_and_holds_out_val(tmp_path):
    class_tree(tmp_path)
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=64, val_size=3, seed=1)
    dm.setup()
    assert dm.classes == ("cat", "dog", "emu") and dm.num_classes == 3 and dm.image_shape == (3, 64, 64)
    assert {k: dm.num_samples(k) for k in ("train", "val", "test")} == {"train": 9, "val": 3, "test": 12}
    x, y = dm.splits["test"]
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert x[5, :, 10, 10].tolist() == [41, 101, 199]          # dog 1: channels in RGB order


def test_imagefolder_resizes_crops_and_streams_the_same_batches(tmp_path):
    class_tree(tmp_path, size=(80, 60))                        # 80 wide, 60 high
    for name in ("cat", "dog", "emu"):                         # one image with a marked centre row
        img = np.zeros((60, 80, 3), dtype=np.uint8)
        img[30, :, 0] = 250
        Image.fromarray(img).save(tmp_path / "test" / name / "0.png")
    memory = ImageFolderDataModule(root=str(tmp_path), image_size=[48, 48], val_size=3, storage="memory")
    stream = ImageFolderDataModule(root=str(tmp_path), image_size=[48, 48], val_size=3, storage="stream",
                                   num_workers=0)
    memory.setup(), stream.setup()
    assert not memory.streaming and stream.streaming and stream.image_shape == memory.image_shape == (3, 48, 48)
    assert memory.splits["test"][0][0, 0, 24, 5] == 250         # centre crop keeps the centre row
    for split in ("train", "val", "test"):
        assert stream.num_samples(split) == memory.num_samples(split)
        a, b = list(memory.loader(split)), list(stream.loader(split))
        assert len(a) == len(b)
        for (xa, ya), (xb, yb) in zip(a, b):
            assert torch.equal(ya, yb) and torch.allclose(xa, xb, atol=1e-6)
    idx = torch.tensor([5, 0, 2])
    (xa, ya, ia), = memory.loader("test", indices=idx, with_index=True)
    (xb, yb, ib), = stream.loader("test", indices=idx, with_index=True)
    assert torch.equal(ya, yb) and torch.allclose(xa, xb, atol=1e-6) and ia.tolist() == ib.tolist() == [5, 0, 2]
    xt, yt, it = next(iter(stream.loader("train", train=True, batch_size=4, with_index=True)))
    assert xt.shape == (4, 3, 48, 48) and it.shape == (4,)
    assert stream.fingerprint() != ImageFolderDataModule(root=str(tmp_path), image_size=32, storage="stream",
                                                         val_size=3).fingerprint()


def test_imagefolder_single_folder_is_split_by_a_fixed_seed(tmp_path):
    class_tree(tmp_path, splits=("all",), per_class=10)
    make = lambda: ImageFolderDataModule(root=str(tmp_path / "all"), split_folders=None, test_size=6,  # noqa: E731
                                         val_size=4, image_size=64)
    a, b = make(), make()
    a.setup(), b.setup()
    assert [a.num_samples(s) for s in ("train", "val", "test")] == [20, 4, 6]
    assert torch.equal(a.splits["test"][1], b.splits["test"][1])


def test_imagefolder_errors_name_the_problem(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "test").mkdir(parents=True)
    with pytest.raises(EExitError, match="Couldn't find any class folder") as err:
        ImageFolderDataModule(root=str(tmp_path / "empty")).setup()
    assert "one subfolder of images per class" in str(err.value)
    class_tree(tmp_path / "odd")
    solid(tmp_path / "odd" / "test" / "yak" / "0.png", (1, 2, 3))
    with pytest.raises(EExitError, match="test has other classes than train \\(yak\\)"):
        ImageFolderDataModule(root=str(tmp_path / "odd")).setup()
    class_tree(tmp_path / "bad")
    (tmp_path / "bad" / "train" / "dog" / "2.png").write_bytes(b"not a png")
    with pytest.raises(EExitError, match="dog/2.png is not a readable image"):
        ImageFolderDataModule(root=str(tmp_path / "bad"), val_size=3, num_workers=0).setup()
    with pytest.raises(DatasetNotFoundError, match="set root=<folder>") as err:   # image folders have no download
        ImageFolderDataModule(root=str(tmp_path / "nowhere")).setup()
    assert "download" not in str(err.value)


def test_tinyimagenet_official_layout(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819", "n01641577"]
    folder.mkdir()
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for c, w in enumerate(wnids):
        for i in range(3):
            solid(folder / "train" / w / "images" / f"{w}_{i}.JPEG", (60 * c, 120, 240 - 60 * c), fmt="JPEG")
    notes = []
    for i, c in enumerate([2, 0, 1, 2]):
        solid(folder / "val" / "images" / f"val_{i}.JPEG", (60 * c, 120, 240 - 60 * c), fmt="JPEG")
        notes.append(f"val_{i}.JPEG\t{wnids[c]}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(notes) + "\n")
    dm = TinyImageNetDataModule(root=str(tmp_path), val_size=2, num_workers=0)
    dm.setup()
    assert dm.classes == tuple(wnids) and dm.num_classes == 3 and dm.image_shape == (3, 64, 64)
    x, y = dm.splits["test"]
    assert y.tolist() == [2, 0, 1, 2]
    assert (x[0, :, 32, 32].int() - torch.tensor([120, 120, 120])).abs().max() <= 3   # class 2: (120, 120, 120)
    assert (x[1, :, 32, 32].int() - torch.tensor([0, 120, 240])).abs().max() <= 3     # class 0: blue-ish, RGB order
    assert dm.num_samples("train") + dm.num_samples("val") == 9
    (folder / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99999999\n")
    with pytest.raises(EExitError, match="val_annotations.txt:1"):
        TinyImageNetDataModule(root=str(tmp_path)).setup()


def test_imagenet_layout_torchvision_reads(tmp_path):
    """``meta.bin`` as torchvision's devkit parser writes it, ``train/<wnid>`` and ``val/<wnid>``."""
    wnids = ["n01440764", "n01443537"]
    torch.save(({w: (f"class {w}",) for w in wnids}, [wnids[0]] * 2 + [wnids[1]] * 2), tmp_path / "meta.bin")
    for c, w in enumerate(wnids):
        for i in range(4):
            solid(tmp_path / "train" / w / f"{w}_{i}.JPEG", (200 * c, 50, 90), size=(300, 260), fmt="JPEG")
        for i in range(2):
            solid(tmp_path / "val" / w / f"ILSVRC2012_val_{c}{i}.JPEG", (200 * c, 50, 90), size=(260, 300), fmt="JPEG")
    dm = ImageNetDataModule(root=str(tmp_path), val_size=2, num_workers=0)
    dm.setup()
    assert dm.streaming and dm.image_shape == (3, 224, 224) and dm.num_classes == 2
    assert [dm.num_samples(s) for s in ("train", "val", "test")] == [6, 2, 4]
    (x, y), = list(dm.loader("test"))
    assert x.shape == (4, 3, 224, 224) and y.tolist() == [0, 0, 1, 1]
    mean, std = torch.tensor(dm.mean).view(3, 1, 1), torch.tensor(dm.std).view(3, 1, 1)
    pixels = (x[2] * std + mean) * 255
    assert (pixels[:, 100, 100] - torch.tensor([200.0, 50.0, 90.0])).abs().max() < 4
    with pytest.raises(DatasetNotFoundError, match="ImageNet in .*ILSVRC2012_devkit_t12.tar.gz"):
        ImageNetDataModule(root=str(tmp_path / "none")).setup()


def test_decoded_images_are_kept_and_refreshed_when_a_file_changes(tmp_path, monkeypatch):
    import eexit.data.image_files as image_files
    class_tree(tmp_path)
    first = ImageFolderDataModule(root=str(tmp_path), val_size=3, num_workers=0)
    first.setup()
    kept = sorted(p.name for p in tmp_path.glob(".decoded-*.pt"))
    assert kept == [".decoded-imagefolder-test-64x64.pt", ".decoded-imagefolder-train-64x64.pt"]
    calls, original = [], image_files.decode_all
    monkeypatch.setattr(image_files, "decode_all", lambda *a, **k: calls.append(a) or original(*a, **k))
    again = ImageFolderDataModule(root=str(tmp_path), val_size=3, num_workers=0)
    again.setup()
    assert not calls and torch.equal(again.splits["test"][0], first.splits["test"][0])      # nothing decoded
    solid(tmp_path / "test" / "dog" / "1.png", (9, 9, 9))                                  # one image replaced
    changed = ImageFolderDataModule(root=str(tmp_path), val_size=3, num_workers=0)
    changed.setup()
    assert len(calls) == 1 and changed.splits["test"][0][5, :, 0, 0].tolist() == [9, 9, 9]


def test_links_back_into_the_tree_are_not_followed_and_each_file_counts_once(tmp_path, caplog):
    """A link loop (cat/loop -> the split folder) made torchvision list every image again under cat; a link
    to another class's image or folder listed it twice. Links to folders outside the tree still count."""
    class_tree(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-extra"
    solid(outside / "more" / "0.png", (7, 7, 7))
    (tmp_path / "train" / "cat" / "loop").symlink_to(tmp_path / "train", target_is_directory=True)
    (tmp_path / "train" / "emu" / "dog-again").symlink_to(tmp_path / "train" / "dog", target_is_directory=True)
    (tmp_path / "train" / "emu" / "same.png").symlink_to(tmp_path / "train" / "emu" / "0.png")
    (tmp_path / "train" / "dog" / "elsewhere").symlink_to(outside / "more", target_is_directory=True)
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=64, val_size=1, seed=0)
    dm.setup()
    assert dm.num_samples("train") + dm.num_samples("val") == 12 + 1   # 4 per class, plus the outside one
    labels = torch.cat([dm.splits["train"][1], dm.splits["val"][1]])
    assert torch.bincount(labels).tolist() == [4, 5, 4]
    assert "left out" in caplog.text


def test_an_image_folder_with_one_class_is_one_line(tmp_path):
    class_tree(tmp_path, classes=("cat",))
    with pytest.raises(EExitError, match=r"one class folder \(cat\); a classifier needs at least two") as err:
        ImageFolderDataModule(root=str(tmp_path), image_size=64, val_size=1).setup()
    assert "\n" not in str(err.value)


def test_rgba_greyscale_and_16_bit_pngs_are_read_as_8_bit_rgb(tmp_path):
    """Each class holds one kind of PNG; all come out as the RGB uint8 the backbone expects."""
    kinds = {"rgba": (np.full((32, 32, 4), 200, np.uint8), "RGBA", 200), "grey": (np.full((32, 32), 100, np.uint8), "L", 100),
             "deep": (np.full((32, 32), 40000, np.uint16), None, 156)}   # 40000 / 65535 x 255 = 155.6
    for split in ("train", "test"):
        for name, (pixels, mode, _) in kinds.items():
            for i in range(3):
                (tmp_path / split / name).mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels, mode=mode).save(tmp_path / split / name / f"{i}.png")
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=32, val_size=1, seed=0)
    dm.setup()
    x, y = dm.splits["test"]
    assert x.dtype == torch.uint8 and x.shape == (9, 3, 32, 32)
    for c, name in enumerate(dm.classes):
        assert x[y == c].unique().tolist() == [kinds[name][2]], name
