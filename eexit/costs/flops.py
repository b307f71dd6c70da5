"""Cost model: multiply-accumulates (MACs) counted by fvcore, model in eval mode, batch 1.

fvcore counts one fused multiply-add as one "flop", so its numbers are MACs; the
unit is MACs everywhere in eexit. Residual additions and ReLUs count zero (fvcore
skips element-wise ops), the usual convention for CNN cost tables.
"""
from __future__ import annotations

import logging
import warnings

import torch
from torch import nn

with warnings.catch_warnings():   # fvcore scripts a loss at import, which torch 2.14 warns is deprecated
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated.*", category=FutureWarning)
    from fvcore.nn import FlopCountAnalysis

from eexit.models.backbones.staged import StagedBackbone

logging.getLogger("fvcore").setLevel(logging.ERROR)

# MAC counts depend on a network's structure and input shape only, never on its weights, and a
# trace costs 20-80 ms: every job of an in-process sweep would trace the same backbone and heads
# several times. Counts are kept per (module repr, input shapes) for the life of the process; a
# module's repr names every layer with its hyperparameters.
_COUNTED: dict[tuple, object] = {}
_MAX_COUNTED = 256


def _memo(kind: str, module: nn.Module, shapes: tuple, compute):
    key = (kind, repr(module), shapes)
    if key not in _COUNTED:
        if len(_COUNTED) >= _MAX_COUNTED:
            _COUNTED.pop(next(iter(_COUNTED)))
        _COUNTED[key] = compute()
    return _COUNTED[key]


def _restore_modes(module: nn.Module, modes: dict) -> None:
    for m, training in modes.items():
        m.training = training


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Total MACs of ``module(*inputs)`` (inputs with batch size 1), in eval mode.
    Every submodule gets its own mode back (not its parent's: a wrapper built in train mode
    must not put the frozen head it wraps into train mode)."""
    return _memo("total", module, tuple(tuple(x.shape) for x in inputs), lambda: _count_macs(module, *inputs))


def _count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(module, inputs)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            return int(analysis.total())
    finally:
        _restore_modes(module, modes)


def block_macs(backbone: StagedBackbone, image_shape: tuple[int, ...]) -> list[int]:
    """MACs of each block of ``backbone``, from one trace of the whole network."""
    return list(_memo("blocks", backbone, tuple(image_shape), lambda: _block_macs(backbone, image_shape)))


def _block_macs(backbone: StagedBackbone, image_shape: tuple[int, ...]) -> tuple[int, ...]:
    device = next(backbone.parameters()).device
    x = torch.zeros(1, *image_shape, device=device)
    modes = {m: m.training for m in backbone.modules()}
    backbone.eval()
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(backbone, (x,))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            by_module = analysis.by_module()
    finally:
        _restore_modes(backbone, modes)
    return tuple(int(by_module.get(f"blocks.{i}", 0)) for i in range(backbone.num_blocks))


def cumulative(values: list[int]) -> list[int]:
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out
