"""Image datasets stored as files: any class-per-folder tree, Tiny-ImageNet, ImageNet.

Listing uses torchvision's readers (``ImageFolder``, ``ImageNet``); decoding and storage are
:class:`~eexit.data.image_files.FileImageDataModule`'s.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torchvision.datasets as tvd

from eexit.data.base import holdout_indices
from eexit.data.download import missing
from eexit.data.image_files import FileImageDataModule
from eexit.errors import BadArgument, DatasetNotFoundError, EExitError

log = logging.getLogger(__name__)

def class_folder(folder: Path, dataset: str) -> tvd.ImageFolder:
    """``torchvision.datasets.ImageFolder`` over ``folder``, its failures as one line."""
    if not folder.is_dir():
        raise missing(dataset, folder, "a folder with one subfolder of images per class", fetchable=False)
    try:
        ds = tvd.ImageFolder(str(folder), allow_empty=False)
    except (FileNotFoundError, RuntimeError) as exc:
        raise EExitError(f"{folder}: {str(exc).splitlines()[0]}; it needs one subfolder of images per class "
                         f"(<class>/<image>.png or .jpg)") from None
    if len(ds.classes) < 2:
        raise EExitError(f"{folder}: one class folder ({ds.classes[0]}); a classifier needs at least two "
                         f"(<class>/<image>.png or .jpg)")
    ds.samples = ds.imgs = each_file_once(ds.samples, folder)
    ds.targets = [label for _, label in ds.samples]
    return ds


def each_file_once(samples: list[tuple[str, int]], folder: Path) -> list[tuple[str, int]]:
    """``samples`` without repeats: torchvision's listing follows directory links, so a link back into the
    tree (a loop, or one class folder reached from another) lists files again, under the wrong class. A
    sample reached through a linked directory that points inside ``folder`` is dropped, and every real file
    counts once; links to folders elsewhere are followed."""
    root, seen, kept = os.path.realpath(folder), set(), []
    for path, label in samples:
        real = os.path.realpath(path)
        parents = Path(path).parents
        inside = [p for p in parents if len(str(p)) > len(str(folder))]   # the folders between root and file
        looped = any(p.is_symlink() and (os.path.realpath(p) + os.sep).startswith(root + os.sep) for p in inside)
        if looped or real in seen:
            continue
        seen.add(real)
        kept.append((path, label))
    if len(kept) < len(samples):
        log.warning("%s: %d files listed through links back into the folder, or twice, are left out (%d kept)",
                    folder, len(samples) - len(kept), len(kept))
    return kept


SPLIT_FOLDERS = {"train": "train", "val": "val", "test": "test"}


class ImageFolderDataModule(FileImageDataModule):
    """Any ``<root>/<split>/<class>/<image>`` tree (``train``/``val``/``test`` folder names
    configurable; a missing ``val`` is a fixed-seed hold-out of train), or one folder of class
    folders split into train and test by a fixed seed (``split_folders: null``, ``test_size``)."""

    name = "imagefolder"

    def __init__(self, *args, split_folders: dict | None = SPLIT_FOLDERS, test_size: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.split_folders = dict(split_folders) if split_folders else None
        self.test_size = test_size

    def list_samples(self):
        root = Path(self.root)
        if not self.split_folders:
            all_ = class_folder(root, "image folder")
            self.classes = tuple(all_.classes)
            if not self.test_size or not 0 < self.test_size < len(all_.samples):
                raise BadArgument(type(self).__name__, "test_size", self.test_size, f"between 1 and "
                                  f"{len(all_.samples) - 1}, to split the single folder {root} into train and test")
            rest, test = holdout_indices(len(all_.samples), self.test_size, seed=12345)
            return {"train": [all_.samples[i] for i in rest], "test": [all_.samples[i] for i in test]}
        out, classes = {}, {}
        for split, sub in self.split_folders.items():
            if sub is None or (split == "val" and not (root / sub).exists()):
                continue
            ds = class_folder(root / sub, "image folder")
            out[split], classes[split] = ds.samples, ds.classes
        for split in ("train", "test"):
            if split not in out:
                raise missing("image folder", root / str(self.split_folders.get(split)), f"the {split} split",
                              fetchable=False)
        for split, names in classes.items():
            if names != classes["train"]:
                extra = sorted(set(names) ^ set(classes["train"]))
                raise EExitError(f"{root}: {split} has other classes than train ({', '.join(extra[:5])}); every "
                                 f"split needs the same class folders")
        self.classes = tuple(classes["train"])
        return out

    def describe(self):
        return {**super().describe(), "root": str(Path(self.root).resolve()), "split_folders": self.split_folders,
                "test_size": self.test_size}


class TinyImageNetDataModule(FileImageDataModule):
    """The official ``tiny-imagenet-200`` layout: ``wnids.txt``, ``train/<wnid>/images/*.JPEG``,
    ``val/images`` labelled by ``val/val_annotations.txt``. Its labelled ``val`` is our test split
    (the official test labels are not public); validation is a fixed-seed hold-out of train."""

    name = "tinyimagenet"
    mean = (0.4802, 0.4481, 0.3975)
    std = (0.2770, 0.2691, 0.2821)

    def __init__(self, *args, image_size=64, **kwargs):
        super().__init__(*args, image_size=image_size, **kwargs)

    def list_samples(self):
        root = Path(self.root)
        folder = root / "tiny-imagenet-200" if (root / "tiny-imagenet-200").is_dir() else root
        wnids_file, notes = folder / "wnids.txt", folder / "val" / "val_annotations.txt"
        if not wnids_file.is_file() or not notes.is_file():
            raise missing("Tiny-ImageNet", folder, "wnids.txt, train/<wnid>/images and val/val_annotations.txt "
                          "(unpack tiny-imagenet-200.zip there)", fetchable=False)
        wnids = [w.strip() for w in wnids_file.read_text().split() if w.strip()]
        self.classes, index = tuple(wnids), {w: i for i, w in enumerate(wnids)}
        train = []
        for w in wnids:
            files = sorted((folder / "train" / w / "images").glob("*.JPEG"))
            if not files:
                raise EExitError(f"{folder / 'train' / w / 'images'} holds no .JPEG images; every class of "
                                 f"wnids.txt needs its training images")
            train += [(str(p), index[w]) for p in files]
        test = []
        for line_no, line in enumerate(notes.read_text().splitlines(), 1):
            parts = line.split("\t")
            if len(parts) < 2 or parts[1] not in index:
                raise EExitError(f"{notes}:{line_no} is not '<file>\\t<wnid>...' with a wnid of wnids.txt")
            test.append((str(folder / "val" / "images" / parts[0]), index[parts[1]]))
        return {"train": train, "test": test}


class ImageNetDataModule(FileImageDataModule):
    """ILSVRC-2012 in the layout ``torchvision.datasets.ImageNet`` reads (``meta.bin`` or the devkit
    archive, ``train/<wnid>/``, ``val/<wnid>/``; torchvision unpacks the official archives on first
    use). The official val is our test split; validation is a fixed-seed hold-out of train."""

    name = "imagenet"
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)
    default_flip = True

    def __init__(self, *args, image_size=224, resize: int | None = 256, **kwargs):
        kwargs.setdefault("val_size", 10000)
        kwargs.setdefault("crop_padding", 0)
        kwargs.setdefault("storage", "stream")
        super().__init__(*args, image_size=image_size, resize=resize, **kwargs)

    def list_samples(self):
        out = {}
        for split, official in (("train", "train"), ("test", "val")):
            try:
                ds = tvd.ImageNet(self.root, split=official)
            except (RuntimeError, FileNotFoundError) as exc:
                raise DatasetNotFoundError(
                    f"ImageNet in {self.root}: {' '.join(str(exc).split())}; put ILSVRC2012_devkit_t12.tar.gz and "
                    f"ILSVRC2012_img_{official}.tar (or the unpacked {official}/<wnid>/ folders) there, or set "
                    f"{{key}}root=<folder>") from None
            out[split] = ds.samples
            self.classes = tuple(ds.wnids)
        return out
