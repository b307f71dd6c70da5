"""ONNX stages for onnxruntime: ``python -m eexit.deploy.export CKPT OUT --format onnx``.

Each stage of :mod:`eexit.deploy.export` becomes one ONNX graph (opset 18, dynamic batch) through torch's
dynamo-based exporter; :class:`eexit.deploy.export.ExportedExitNet` runs them with onnxruntime on the CPU
through the same real-skip loop as the torch paths. Needs ``onnx``, ``onnxscript`` and
``onnxruntime`` (pinned in constraints.txt, part of the ``dev`` and ``onnx`` extras).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.export import Dim

from eexit.errors import EExitError

OPSET = 18


def export_stage(stage: torch.nn.Module, x: torch.Tensor, path: Path, last: bool) -> None:
    """One stage as an ONNX file; outputs ``features, logits[, confidence]`` (the last: ``logits``)."""
    try:
        import onnxscript  # noqa: F401 - the dynamo exporter needs it
    except ImportError:
        raise EExitError("ONNX export needs onnx, onnxscript and onnxruntime: pip install -c constraints.txt "
                         "'eexit[onnx]'") from None
    n_out = 1 if last else len(stage(x))
    names = ["logits"] if last else ["features", "logits", "confidence"][:n_out]
    program = torch.onnx.export(stage, (x,), dynamo=True, opset_version=OPSET, input_names=["x"],
                                output_names=names, dynamic_shapes={"x": {0: Dim.DYNAMIC}}, verbose=False)
    program.save(str(path))


EXECUTION_MODES = ("sequential", "parallel")


def session_options(threads: int | None = None, execution_mode: str = "sequential", spinning: bool = False):
    """onnxruntime session options: ``threads`` for the intra-op pool (None: torch's own count, so the two
    runtimes compare at equal threads); ``execution_mode`` sequential (one branch at a time; a ResNet stage is a
    chain, so parallel only adds scheduling); ``spinning``: whether idle pool threads busy-wait for work. Off by
    default: an exported network is one session per stage, each with its own pool, and the spinning pools of the
    stages not running take the cores of the one that is. Measured on this project's 2-core VM, 2 threads, a CIFAR
    ResNet18 exported in 4 stages plus the plain network: with spinning, the plain network's p50 at batch 1 was
    14.5 ms beside the stage sessions (3.8 ms alone); without, one session alone costs 4.5 ms instead of 3.8."""
    import onnxruntime as ort
    if execution_mode not in EXECUTION_MODES:
        raise EExitError(f"execution_mode={execution_mode!r} is not known; use one of {', '.join(EXECUTION_MODES)}")
    threads = torch.get_num_threads() if threads is None else threads
    if not isinstance(threads, int) or threads < 1:
        raise EExitError(f"threads={threads!r} is not allowed: give an integer >= 1 (or None for torch's count)")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.execution_mode = (ort.ExecutionMode.ORT_SEQUENTIAL if execution_mode == "sequential"
                              else ort.ExecutionMode.ORT_PARALLEL)
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


class OnnxStage:
    """A stage file run by onnxruntime: torch tensors in, torch tensors out (CPU). One session per stage, made
    once; options from :func:`session_options`. Inputs and outputs share memory with numpy (no copy)."""

    def __init__(self, path: Path, threads: int | None = None, execution_mode: str = "sequential",
                 spinning: bool = False):
        import onnxruntime as ort
        self.session = ort.InferenceSession(str(path), session_options(threads, execution_mode, spinning),
                                            providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor):
        outs = self.session.run(None, {self.input: np.ascontiguousarray(x.detach().cpu().float().numpy())})
        tensors = tuple(torch.from_numpy(o) for o in outs)
        return tensors[0] if len(tensors) == 1 else tensors


def onnx_stages(folder: Path, files: list[str], **options) -> list[OnnxStage]:
    """One :class:`OnnxStage` per file; ``options``: :func:`session_options`' arguments."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise EExitError(f"{folder} holds ONNX stages; running them needs onnxruntime: "
                         "pip install -c constraints.txt 'eexit[onnx]'") from None
    return [OnnxStage(Path(folder) / f, **options) for f in files]
