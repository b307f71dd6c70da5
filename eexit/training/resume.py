"""Training that survives a kill: ``last.ckpt`` written every epoch, and read back only when it loads."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


def epoch_checkpoint(folder: Path) -> ModelCheckpoint:
    """``last.ckpt`` (weights, optimizer, scheduler, epoch) replaced at every epoch's end, so a
    killed training resumes where it was (Lightning writes it atomically)."""
    return ModelCheckpoint(dirpath=folder, filename="last", save_top_k=1, monitor=None,
                           save_on_train_epoch_end=True, enable_version_counter=False)


def resumable(last: Path, what: str) -> str | None:
    """``last`` when it holds a loadable training state (else None, and it is removed)."""
    if not last.is_file():
        return None
    try:
        state = torch.load(last, map_location="cpu", weights_only=False)
        epoch = int(state["epoch"]) + 1
    except Exception as exc:
        log.warning("%s: cannot resume from %s (%s); training from the start", what, last,
                    type(exc).__name__)
        last.unlink(missing_ok=True)
        return None
    log.info("%s: resuming an interrupted training from %s (%d epochs done)", what, last, epoch)
    return str(last)
