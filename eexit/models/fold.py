"""Fold BatchNorm into the convolution before it, for deployed inference.

In eval mode a BatchNorm after a convolution is a fixed per-channel affine map, so
it can be merged into that convolution's weight and bias: the same function with
one operator fewer. On a CPU at batch 1 every operator costs tens of microseconds
of dispatch whatever its size, which is a visible share of a small exit head
(``benchmarks/RESULTS-latency.md``); folding removes that share from the backbone
and the heads alike.

Pairs are folded inside an ``nn.Sequential``, because there the order of the children
*is* the execution order, and inside the ``torch.fx`` graphs of staged library backbones
(``torch.fx.experimental.optimization.fuse``: the graph says which conv feeds which BatchNorm); a BatchNorm used any other way (DenseNet's
pre-activation BN, EENets' head BN before pooling) is left as it is. The folded
BatchNorm is removed, and a Sequential left with one module is replaced by that
module: even an ``nn.Identity`` costs a module call (about 10 us on a small CPU).
The copy is for inference only; its parameter names differ from the original's.
"""
from __future__ import annotations

import copy

from torch import fx, nn
from torch.fx.experimental.optimization import fuse
from torch.nn.utils.fusion import fuse_conv_bn_eval

_PAIRS = ((nn.Conv1d, nn.BatchNorm1d), (nn.Conv2d, nn.BatchNorm2d))


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return any(isinstance(conv, c) and isinstance(bn, b) for c, b in _PAIRS) \
        and bn.track_running_stats and bn.num_features == conv.out_channels


def _norms(module: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _fuse_graph(gm: fx.GraphModule) -> fx.GraphModule:
    """Fold the pairs the graph calls directly, then those inside each module it calls whole (a
    library model's stage): traced on its own for that, and kept unfolded where it cannot be."""
    gm = fuse(gm, inplace=True, no_trace=True)
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        sub = gm.get_submodule(node.target)
        if (type(sub).__module__.startswith("torch.nn") and not isinstance(sub, nn.Sequential)) or not _norms(sub):
            continue
        try:
            fused = fuse(sub)
        except Exception:   # not traceable by itself: left as it is, still correct
            continue
        parent, _, name = node.target.rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, name, fused)
    return gm


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``model`` with every (conv, BatchNorm) pair in a Sequential merged.

    Returns ``(copy, number of BatchNorms folded)``; ``model`` itself is untouched.
    Outputs equal the original's up to float rounding (the folded weights are
    ``w * gamma / sqrt(var + eps)``), so a borderline sample may move exits.
    """
    folded = copy.deepcopy(model).eval()
    count = 0
    in_graphs = set()   # a graph calls its submodules by path: their Sequentials must keep their shape
    for parent in list(folded.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, fx.GraphModule):
                before = _norms(child)
                fused = _fuse_graph(child)
                count += before - _norms(fused)
                setattr(parent, name, fused)
                in_graphs.update(id(m) for m in fused.modules())
    for module in folded.modules():
        if not isinstance(module, nn.Sequential) or id(module) in in_graphs:
            continue
        i = 0
        while i < len(module) - 1:
            if _foldable(module[i], module[i + 1]):
                module[i] = fuse_conv_bn_eval(module[i], module[i + 1])
                del module[i + 1]
                count += 1
            i += 1
    for parent in list(folded.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Sequential) and len(child) == 1 and id(child) not in in_graphs:
                setattr(parent, name, child[0])
    return folded, count
