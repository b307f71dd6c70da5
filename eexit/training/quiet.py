"""Lightning without the noise: eexit's own Trainers and a user's script print their results and the
epoch progress, nothing else.

``quiet_lightning()`` raises Lightning's loggers to WARNING (the device banner and the "Tip" lines every
Trainer logs at INFO) and silences the warnings eexit's own use of Lightning makes on purpose: frozen parts
(a backbone, finished heads) are in eval mode at the start of a fit; small sets have few batches; a
resumed fit finds its checkpoint folder; a Trainer without ``max_epochs`` (``BoostedTraining`` sets them);
Lightning's own deprecations in its internals.
"""
from __future__ import annotations

import logging
import warnings

INTENDED = (".*log_every_n_steps.*", ".*LeafSpec.*", ".*does not have many workers.*", ".*limit_val_batches.*",
            ".*torch.jit.*deprecated.*", ".*in eval mode at the start of training.*",
            ".*Checkpoint directory .* exists and is not empty.*", ".*`max_epochs` was not set.*")


def quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for msg in INTENDED:
        warnings.filterwarnings("ignore", message=msg)
