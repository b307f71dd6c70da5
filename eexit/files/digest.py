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


def payload_digest(obj) -> str:
    """BLAKE2b of a nested structure of dicts, lists, scalars and tensors (keys in sorted order, every tensor's
    shape, dtype and bytes): the checksum a saved checkpoint or decoded-image cache carries inside itself, so a
    flipped byte in a tensor or a changed threshold shows on load even though the file still unpickles."""
    h = hashlib.blake2b(digest_size=16)

    def walk(o) -> None:
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous()
            h.update(f"T{tuple(t.shape)}{t.dtype}".encode())
            h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
        elif isinstance(o, dict):
            h.update(b"{")
            for k in sorted(o, key=str):
                h.update(repr(k).encode() + b":")
                walk(o[k])
            h.update(b"}")
        elif isinstance(o, (list, tuple)):
            h.update(b"[")
            for v in o:
                walk(v)
            h.update(b"]")
        else:
            h.update(repr(o).encode() + b";")
    walk(obj)
    return h.hexdigest()
