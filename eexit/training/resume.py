"""Training that survives a kill: ``last.ckpt`` written every epoch, and read back only when it loads."""
from __future__ import annotations

import logging
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint

from eexit.files.torch_files import UnreadableFile, load_tensors

log = logging.getLogger(__name__)


def epoch_checkpoint(folder: Path) -> ModelCheckpoint:
    """``last.ckpt`` (weights, optimizer, scheduler, epoch) replaced at every epoch's end, so a
    killed training resumes where it was (Lightning writes it atomically)."""
    return ModelCheckpoint(dirpath=folder, filename="last", save_top_k=1, monitor=None,
                           save_on_train_epoch_end=True, enable_version_counter=False)


def resumable(last: Path, what: str) -> str | None:
    """``last`` when it holds a loadable training state (else None, and it is removed). A file that would run
    code when loaded is refused (:class:`~eexit.files.torch_files.RefusedFile`, one line): it was planted, not
    left by a crash. The caller resumes with ``trainer.fit(..., weights_only=True)``."""
    if not last.is_file():
        return None
    try:
        state = load_tensors(last, "resume checkpoint")
        epoch = int(state["epoch"]) + 1
    except (UnreadableFile, KeyError, TypeError, ValueError) as exc:
        log.warning("%s: cannot resume from %s (%s); training from the start", what, last,
                    type(exc).__name__)
        last.unlink(missing_ok=True)
        return None
    log.info("%s: resuming an interrupted training from %s (%d epochs done)", what, last, epoch)
    return str(last)
