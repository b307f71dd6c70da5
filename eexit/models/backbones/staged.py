"""A backbone as an ordered list of blocks.

The output of every block but the last is a possible attach point for an exit
head, and ``forward(x, start, end)`` runs any contiguous range of blocks, so
early-exit inference can stop after block k and resume from it later.
"""
from __future__ import annotations

from itertools import islice
from pathlib import Path

import torch
from torch import nn

from eexit.errors import BadArgument, EExitError
from eexit.files.torch_files import UnreadableFile, load_tensors


class Classifier(nn.Module):
    """Global average pool + linear: the last block of every backbone."""

    def __init__(self, channels: int, num_classes: int, pre: nn.Module | None = None):
        super().__init__()
        self.pre = pre if pre is not None else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.pre(x)), 1))


class StagedBackbone(nn.Module):
    """``blocks[0..n-2]`` compute features, ``blocks[n-1]`` is the classifier.

    Args:
        blocks: the modules in execution order.
        names: one readable name per block (``stem``, ``layer1.0``, ... ``classifier``).
        arch: registry name, stored for reports and caches.

    ``input_mean``/``input_std``: the normalisation pretrained weights expect (``None``: the data's own).
    ``new_classifier``: the pretrained weights had other classes, so the classifier is new (untrained).
    """

    input_mean: tuple[float, ...] | None = None
    input_std: tuple[float, ...] | None = None
    new_classifier = False   # pretrained features under a classifier resized (untrained) for the data

    def __init__(self, blocks: list[nn.Module], names: list[str], arch: str, num_classes: int):
        super().__init__()
        if len(blocks) != len(names):
            raise BadArgument("StagedBackbone", "names", len(names), f"one name per block ({len(blocks)})")
        self.blocks = nn.ModuleList(blocks)
        self.block_names = list(names)
        self.arch, self.num_classes = arch, num_classes

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def attach_points(self) -> list[int]:
        """Blocks whose output can feed a head (every block except the classifier)."""
        return list(range(self.num_blocks - 1))

    def forward(self, x: torch.Tensor, start: int = 0, end: int | None = None) -> torch.Tensor:
        # islice, not blocks[start:end]: slicing a ModuleList builds a new module each call, 9.5 us of a
        # batch-1 stage (the real skip runs one segment per exit); islice walks the same blocks in 1 us
        for block in islice(self.blocks, start, end):
            x = block(x)
        return x

    @torch.no_grad()
    def feature_shapes(self, image_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Output shape (without batch) of every block, from one dummy forward in eval mode. An
        image too small for the network's downsampling fails with one line naming the block."""
        modes = {m: m.training for m in self.modules()}   # each submodule's own mode comes back
        self.eval()
        x = torch.zeros(1, *image_shape, device=next(self.parameters()).device)
        shapes = []
        try:
            for name, block in zip(self.block_names, self.blocks):
                try:
                    x = block(x)
                except RuntimeError as exc:
                    raise EExitError(f"{'x'.join(map(str, image_shape[1:]))} images are too small for {self.arch}: "
                                     f"block {name} gets a {'x'.join(map(str, x.shape[2:]))} map "
                                     f"({str(exc).splitlines()[0][:80]}); use larger images (data.image_size) "
                                     f"or a backbone that downsamples less") from None
                except (TypeError, ValueError, AttributeError) as exc:   # a library model cut where it cannot be
                    raise EExitError(f"{self.arch} cannot run block by block: block {name} fails "
                                     f"({type(exc).__name__}: {str(exc).splitlines()[0][:80]}); choose a CNN "
                                     f"whose stages pass one feature map on") from None
                shapes.append(tuple(x.shape[1:]))
        finally:
            for m, training in modes.items():
                m.training = training
        flat = [(n, s) for n, s in zip(self.block_names[:-1], shapes[:-1]) if len(s) != 3]
        if flat:
            raise EExitError(f"{self.arch} is not a CNN eexit can attach exits to: block {flat[0][0]} outputs "
                             f"{tuple(flat[0][1])}, exit heads read feature maps (channels, height, width)")
        return shapes


def kaiming_init(model: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, zero biases (the EENets / ResNet convention)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


def _owner(model: nn.Module, arch: str | None) -> str:
    return arch or getattr(model, "arch", type(model).__name__)


def load_weights(model: nn.Module, path: str | None, arch: str | None = None) -> nn.Module:
    """Load a ``state_dict`` file (or a dict holding one under ``state_dict``) into ``model``.

    A file for another architecture or class count fails with one line naming which keys
    or shapes differ, instead of PyTorch's multi-line report."""
    if not path:
        return model
    if not Path(path).is_file():
        raise BadArgument(_owner(model, arch), "weights", path, problem="does not exist; give a state_dict saved with "
                                                                         "torch.save")
    try:
        state = load_tensors(path, "weights file")
    except UnreadableFile as exc:   # truncated, or not a torch file at all (RefusedFile: one line as it is)
        raise BadArgument(_owner(model, arch), "weights", path, problem=f"cannot be read by torch.load ({exc.reason}); "
                                                                         "give a state_dict saved with torch.save") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise BadArgument(_owner(model, arch), "weights", path, problem=f"holds a {type(state).__name__}, not a state_dict")
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        def some(keys):
            return ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
        parts = [f"missing {some(missing)}" if missing else "", f"unexpected {some(unexpected)}" if unexpected else "",
                 "shape differs for " + some([f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in shapes])
                 if shapes else ""]
        raise BadArgument(_owner(model, arch), "weights", path, problem=f"does not fit {_owner(model, arch)}: " +
                          "; ".join(p for p in parts if p) + "; use weights saved from the same backbone and classes")
    bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise BadArgument(_owner(model, arch), "weights", path, problem=f"holds NaN or inf values (in "
                          f"{', '.join(bad[:3])}); give finite weights, e.g. a checkpoint saved before the training diverged")
    model.load_state_dict(state)
    return model
