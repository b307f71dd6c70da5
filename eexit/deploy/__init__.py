"""Deployment: the exit network's checkpoint (``checkpoint.py``), its export as standalone per-stage programs
(``export.py``: ``torch.export``; ``onnx.py``: ONNX for onnxruntime)."""
from eexit.deploy.checkpoint import ExitCheckpoint, load_exit_checkpoint, save_exit_checkpoint

__all__ = ["ExitCheckpoint", "load_exit_checkpoint", "save_exit_checkpoint"]
