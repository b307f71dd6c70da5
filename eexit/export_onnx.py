"""ONNX stages for onnxruntime: ``python -m eexit.export CKPT OUT --format onnx``.

Each stage of :mod:`eexit.export` becomes one ONNX graph (opset 18, dynamic batch) through torch's
dynamo-based exporter; :class:`eexit.export.ExportedExitNet` runs them with onnxruntime on the CPU
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


class OnnxStage:
    """A stage file run by onnxruntime: torch tensors in, torch tensors out (CPU)."""

    def __init__(self, path: Path):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor):
        outs = self.session.run(None, {self.input: np.ascontiguousarray(x.detach().cpu().float().numpy())})
        tensors = tuple(torch.from_numpy(o) for o in outs)
        return tensors[0] if len(tensors) == 1 else tensors


def onnx_stages(folder: Path, files: list[str]) -> list[OnnxStage]:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise EExitError(f"{folder} holds ONNX stages; running them needs onnxruntime: "
                         "pip install -c constraints.txt 'eexit[onnx]'") from None
    return [OnnxStage(Path(folder) / f) for f in files]
