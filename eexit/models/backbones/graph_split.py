"""Cut any traceable network into consecutive segments at named modules (``torch.fx``).

A library model (timm, torchvision) is not a list of blocks: its ``forward`` mixes module calls
with functional glue (flatten, a functional ReLU, residual adds). Tracing it once into a graph
and cutting that graph after the call of each stage module gives segments that, run one after
another, compute exactly what the model's own ``forward`` computes, and let the forward resume
after any stage. A cut is valid only where the stage's output is the single value that later
code reads; cuts that fail this are dropped with a warning (their features are not a clean
attach point).
"""
from __future__ import annotations

import logging
from typing import Iterable, Sequence

import torch
from torch import fx, nn

from eexit.errors import EExitError

log = logging.getLogger(__name__)


# Layers whose forward reads ``self.training``: a library's subclass of one (timm's BatchNormAct2d,
# DropPath, torchvision's StochasticDepth) traced through would freeze the mode it had at trace time,
# so they stay modules that run eagerly and follow ``.train()``/``.eval()``.
MODE_DEPENDENT = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
                  nn.modules.dropout._DropoutNd)
MODE_DEPENDENT_NAMES = ("DropPath", "StochasticDepth", "DropBlock")


class StageTracer(fx.Tracer):
    """Keeps the stage modules, any ``leaf_types`` and every mode-dependent layer as single graph
    nodes, so each cut is one node and the code inside a stage is never traced (nor needs to be)."""

    def __init__(self, stages: Iterable[str], leaf_types: tuple = (), autowrap_functions: tuple = ()):
        super().__init__(autowrap_functions=autowrap_functions)
        self.stages, self.leaf_types = set(stages), tuple(leaf_types)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if qualname in self.stages or (self.leaf_types and isinstance(m, self.leaf_types)):
            return True
        if isinstance(m, MODE_DEPENDENT) or any(n in type(m).__name__ for n in MODE_DEPENDENT_NAMES):
            return True
        return super().is_leaf_module(m, qualname)


def trace(model: nn.Module, stages: Sequence[str], leaf_types: tuple = (),
          autowrap_functions: tuple = ()) -> fx.GraphModule:
    tracer = StageTracer(stages, leaf_types, autowrap_functions)
    try:
        graph = tracer.trace(model)
    except Exception as exc:   # data-dependent control flow outside the stages
        raise EExitError(f"{type(model).__name__} cannot be traced by torch.fx outside its stages "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); pick another model") from None
    return fx.GraphModule(model, graph, type(model).__name__)


def clean_cuts(gm: fx.GraphModule) -> dict[fx.Node, bool]:
    """For every node: is its output the only value (besides constants) that later code reads?"""
    nodes = list(gm.graph.nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    reach, out = -1, {}   # reach: the furthest use of any value defined so far
    for n in nodes:
        out[n] = reach <= pos[n] and n.op not in ("placeholder", "output", "get_attr")
        if n.op != "get_attr":
            reach = max(reach, max((pos[u] for u in n.users), default=-1))
    return out


def _segment(gm: fx.GraphModule, nodes: list[fx.Node], source: fx.Node | None, output) -> fx.GraphModule:
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    if source is not None:
        env[source] = graph.placeholder("x")

    def lookup(a: fx.Node) -> fx.Node:
        if a not in env:   # a constant or parameter fetched in an earlier segment: fetch it here too
            if a.op != "get_attr":
                raise AssertionError(f"value {a.name} crosses a cut")
            env[a] = graph.node_copy(a, lookup)
        return env[a]

    for n in nodes:
        if n.op in ("output", "get_attr") or n is source:
            continue
        env[n] = graph.placeholder(n.name) if n.op == "placeholder" else graph.node_copy(n, lookup)
    graph.output(fx.node.map_arg(output, lookup))
    graph.lint()
    return fx.GraphModule(gm, graph)


def stage_cuts(gm: fx.GraphModule, stages: Sequence[str]) -> list[fx.Node]:
    """The graph nodes calling the stage modules, in call order, keeping only clean cuts."""
    calls: dict[str, list[fx.Node]] = {}
    for n in gm.graph.nodes:
        if n.op == "call_module":
            calls.setdefault(n.target, []).append(n)
    missing = [s for s in stages if s not in calls]
    if missing:
        raise EExitError(f"stage module(s) {', '.join(missing)} are never called by the model's forward")
    twice = [s for s in stages if len(calls[s]) > 1]
    if twice:
        raise EExitError(f"stage module(s) {', '.join(twice)} are called more than once; they cannot be cut points")
    clean = clean_cuts(gm)
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    cuts = []
    for n in sorted((calls[s][0] for s in stages), key=order.get):
        if clean[n]:
            cuts.append(n)
        else:
            log.warning("stage %s: more than its output is read after it; not a cut point", n.target)
    return cuts


def split_at(gm: fx.GraphModule, cuts: Sequence[fx.Node]) -> list[fx.GraphModule]:
    """Segments ending after each cut node (in graph order), plus one last segment for the rest
    of the network; run in sequence they compute the traced model's output."""
    if not cuts:
        raise EExitError("no stage of this model is a clean cut point; it cannot be staged")
    nodes = list(gm.graph.nodes)
    part, k, cut_set = {}, 0, set(cuts)
    for n in nodes:
        part[n] = k
        k += n in cut_set
    output = nodes[-1]
    return [_segment(gm, [n for n in nodes if part[n] == k], cuts[k - 1] if k else None,
                     cuts[k] if k < len(cuts) else output.args[0]) for k in range(len(cuts) + 1)]


@torch.no_grad()
def resolution_cuts(gm: fx.GraphModule, example: torch.Tensor) -> list[fx.Node]:
    """The generic stage description for a model that has none: at each spatial resolution of its
    4-D activations, the last clean cut (where ``features_only`` models put their feature maps),
    found by running the traced graph once on ``example``."""
    shapes: dict[fx.Node, tuple] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if isinstance(out, torch.Tensor) and out.dim() == 4:
                shapes[n] = tuple(out.shape[-2:])
            return out

    Recorder(gm).run(example)
    clean = clean_cuts(gm)
    candidates = [n for n in gm.graph.nodes if n in shapes and clean[n]]
    return [n for i, n in enumerate(candidates)
            if i + 1 == len(candidates) or shapes[candidates[i + 1]] != shapes[n]]
