"""Helpers of the composition root: ``built`` names a class's refusal of its argument by its config key (and a
``_target_`` that cannot be imported),
``precision: auto`` and ``accelerator: auto`` resolved on this machine."""
from __future__ import annotations
import re

import torch
from hydra.errors import InstantiationException

from eexit.errors import EExitError, KeyedError


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` = bf16 mixed precision on a GPU, fp32 on the CPU."""
    if precision != "auto":
        return str(precision)
    return "bf16-mixed" if device_of(accelerator).type == "cuda" else "32-true"


def device_of(accelerator: str) -> torch.device:
    return torch.device("cuda" if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available() else "cpu")


def built(group: str, make):
    """``make()``, with a class's refusal of its own argument named by the config key (``head.width=0 is not
    allowed: ...``; from Python the same check names the class: ``Conv1dHead: width=0 ...``)."""
    try:
        return make()
    except InstantiationException as exc:
        if isinstance(exc.__cause__, KeyedError):
            raise exc.__cause__.at(group) from None
        if (missing := re.search(r"Error locating target '([^']+)'", str(exc))) is not None:
            module = missing.group(1).rpartition(".")[0]
            raise EExitError(f"{group}: cannot import {missing.group(1)} (its _target_): run eexit from the folder "
                             f"that holds {module.replace('.', '/')}.py, or install that module into this "
                             f"environment") from None
        raise
    except KeyedError as exc:
        raise exc.at(group) from None
