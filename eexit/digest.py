"""Digests of weights: which weights features came from (the feature store's key), and which frozen
backbone a saved exit network needs (its checkpoint). A leaf module, so data and deploy both use it."""
from __future__ import annotations

import hashlib

import torch


def state_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's state (names, shapes, dtypes, bytes): which weights features came from."""
    return tensors_digest(module.state_dict())


def tensors_digest(state: dict) -> str:
    """sha256 of a state dict's tensors (names, shapes, dtypes, bytes)."""
    h = hashlib.sha256()
    for name, t in state.items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return h.hexdigest()
