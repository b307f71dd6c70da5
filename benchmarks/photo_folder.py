"""Writes an image folder of real photo crops: the image-folder case of the survivor-rule measurement.

scikit-learn ships two photographs (``china.jpg``, ``flower.jpg``, 427x640). Each is cut into
its four quadrants, and each quadrant is a class (8 classes: ``china-0`` ... ``flower-3``); the images
are 32x32 crops at random places. Within a quadrant the rows are split before cropping, in five
horizontal stripes of equal height assigned train, val, train, test, train: every crop lies inside
one stripe, so no pixel is shared between splits, and each split spans the quadrant. The result is ``<out>/{train,val,test}/<class>/<n>.png``, the layout
``data=imagefolder`` reads. Reproducible: one fixed-seed generator.

    python benchmarks/photo_folder.py OUT [--train 150 --val 60 --test 60]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images

STRIPES = ("train", "val", "train", "test", "train")
SIZE = 32


def write(out: Path, counts: dict[str, int], seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    photos = load_sample_images()
    written = 0
    for name, photo in zip(("china", "flower"), photos.images):
        h, w = photo.shape[0] // 2, photo.shape[1] // 2
        for q in range(4):
            quadrant = photo[(q // 2) * h:(q // 2 + 1) * h, (q % 2) * w:(q % 2 + 1) * w]
            for split in counts:
                stripes = [s for s, which in enumerate(STRIPES) if which == split]
                folder = out / split / f"{name}-{q}"
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(counts[split]):
                    top = stripes[rng.integers(len(stripes))] * h // len(STRIPES)
                    y = rng.integers(top, top + h // len(STRIPES) - SIZE + 1)
                    x = rng.integers(0, w - SIZE + 1)
                    Image.fromarray(quadrant[y:y + SIZE, x:x + SIZE]).save(folder / f"{i:04d}.png")
                    written += 1
    return written


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    for split, n in (("train", 150), ("val", 60), ("test", 60)):
        p.add_argument(f"--{split}", type=int, default=n)
    a = p.parse_args(argv)
    n = write(a.out, {"train": a.train, "val": a.val, "test": a.test})
    print(f"wrote {n} crops to {a.out}")


if __name__ == "__main__":
    main()
