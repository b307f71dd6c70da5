"""A headline's test samples in results.json, compactly: the exit each test image leaves at (one character each,
``0``-``9`` then ``a``-``z``) and each exit's cost fraction. Enough to resample the test set (two-level intervals,
paired differences on the same images) without the exit outputs themselves."""
from __future__ import annotations

import numpy as np

EXIT_CODES = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode_exits(exit_idx: list[int]) -> str:
    return "".join(EXIT_CODES[i] for i in exit_idx)


def sample_savings(point: dict | None, split: str = "test") -> np.ndarray | None:
    """Per test (``split="val"``: validation) image, the share of the backbone's compute saved at this headline's
    setting (``None`` when the results were written without samples)."""
    key = "sample_exits" if split == "test" else "val_sample_exits"
    if not point or key not in point:
        return None
    codes = np.frombuffer(point[key].encode(), dtype=np.uint8).astype(np.int64)
    exit_idx = np.where(codes >= ord("a"), codes - ord("a") + 10, codes - ord("0"))
    return 1.0 - np.asarray(point["exit_costs"], dtype=np.float64)[exit_idx]
