"""Fetch and verify official dataset archives (torchvision's downloader checks the md5)."""
from __future__ import annotations

import logging
from pathlib import Path

from torchvision.datasets.utils import check_integrity, download_and_extract_archive, download_url

from eexit.errors import DatasetNotFoundError

log = logging.getLogger(__name__)


def fetch(url: str, root: str | Path, md5: str, extract: bool = True) -> None:
    """Download ``url`` into ``root`` (and extract it), verifying its md5 checksum."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s into %s", url, root)
    try:
        if extract:
            download_and_extract_archive(url, str(root), md5=md5)
        else:
            download_url(url, str(root), md5=md5)
    except Exception as exc:  # network or checksum failure: say what to do
        raise DatasetNotFoundError(
            f"download of {url} failed ({type(exc).__name__}: {exc}); fetch it by hand into {root}") from exc


def missing(dataset: str, expected: Path | str, what: str, fetchable: bool = True) -> DatasetNotFoundError:
    """The one-line error for absent data; ``fetchable``: the dataset has ``download`` (image folders
    and sets without a free archive do not, so the hint names only keys that exist)."""
    return DatasetNotFoundError(
        f"{dataset} not found: expected {what} at {expected}; set {{key}}root=<folder>"
        + (" or add {key}download=true to fetch the official archive" if fetchable else ""))


def verified(path: Path, md5: str | None) -> bool:
    return path.is_file() and (md5 is None or check_integrity(str(path), md5))
