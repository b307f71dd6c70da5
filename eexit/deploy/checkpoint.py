"""Exit-network checkpoints: what a run saves so its early-exit network can be deployed.

Every regime of a run writes ``checkpoints/<regime>.pt`` holding the exit heads, the
attach blocks, the head configuration, the calibrated exit policy and the data
configuration. A frozen backbone is referenced by the file that holds its weights
(the backbone cache entry, or ``backbone.weights``), not copied: a 64-job sweep would
otherwise store 128 copies of it. EENets' jointly trained network is stored whole.

``load_exit_checkpoint`` rebuilds the network and its policy on any device, ready for
``net.infer`` (``benchmarks/latency.py --checkpoint`` times it on the run's test images).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate

from eexit.errors import EExitError
from eexit.exits import ExitPolicy
from eexit.files.atomic import atomic_save
from eexit.files.digest import payload_digest, state_digest
from eexit.files.torch_files import UnreadableFile, load_tensors
from eexit.models.early_exit import EarlyExitNet

FORMAT = "eexit-exit-net/2"   # 2: backbone and head are stored as configs (``_target_``), with the image shape


@dataclass
class ExitCheckpoint:
    net: EarlyExitNet
    policy: ExitPolicy
    data: dict          # the run's ``data`` config (instantiate it to get the same splits)
    meta: dict          # backbone name, head config, attach blocks, source of the backbone weights


def save_exit_checkpoint(path: Path, net: EarlyExitNet, policy: ExitPolicy, cfg_container: dict,
                         backbone_weights: str | None, image_shape: tuple[int, ...], whole_network: bool = False,
                         normalization: tuple | None = None) -> None:
    """``cfg_container``: the resolved run config (its ``backbone``, ``head`` and ``data`` are kept);
    ``normalization``: the ``(mean, std)`` the data was normalised with, stored in the data config so
    re-instantiating it feeds the network what it was trained on.
    Written under a temporary name and renamed, so a crash never leaves half a checkpoint; it carries a
    BLAKE2b checksum of its whole contents, checked on every load (a flipped byte or an edited threshold)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backbone_cfg = {k: v for k, v in cfg_container["backbone"].items() if k != "weights"}
    payload = {"format": FORMAT, "attach": list(net.attach), "head": cfg_container["head"],
                "backbone": net.backbone.arch, "backbone_config": backbone_cfg, "num_classes": net.backbone.num_classes,
                "image_shape": list(image_shape), "heads": net.heads.state_dict(), "policy": policy.to_dict(),
                "network_class": f"{type(net).__module__}.{type(net).__qualname__}",   # ZTWNet, ...
                "extra_modules": net.extra_modules().state_dict(),
                "data": {**cfg_container["data"], **({"mean": list(normalization[0]), "std": list(normalization[1])}
                                                     if normalization else {})}, "backbone_weights": backbone_weights,
                "backbone_digest": state_digest(net.backbone),
                "network": {k: v.cpu() for k, v in net.state_dict().items()} if whole_network else None}
    atomic_save({**payload, "blake2b": payload_digest(payload)}, path)   # the checksum is checked on every load


def load_exit_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> ExitCheckpoint:
    """The saved early-exit network (eval mode, on ``device``) and its calibrated policy."""
    path = Path(path)
    if not path.is_file():
        raise EExitError(f"checkpoint {path} does not exist; give a run's checkpoints/<regime>.pt")
    try:
        ck = load_tensors(path, "checkpoint")   # a file that would run code: RefusedFile, one line
    except UnreadableFile as exc:
        raise EExitError(f"{path} cannot be read as a checkpoint ({exc.reason}): it is damaged or not a "
                         f"checkpoint; give a run's checkpoints/<regime>.pt") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise EExitError(f"{path} is not an eexit exit-network checkpoint ({FORMAT}); "
                         f"checkpoints written before it cannot be loaded, re-run the experiment")
    if ck.get("blake2b") != payload_digest({k: v for k, v in ck.items() if k != "blake2b"}):
        raise EExitError(f"{path} does not match its checksum: it was damaged or edited after it was written; "
                         f"re-run the experiment to write it again")
    config = dict(ck["backbone_config"])
    if "pretrained" in config:
        config["pretrained"] = False   # every weight comes from the checkpoint or its weights file
    if ck["network"] is not None:
        backbone = instantiate(config, num_classes=ck["num_classes"])
    else:
        weights = ck["backbone_weights"]
        if not weights or not Path(weights).is_file():
            raise EExitError(f"{path}: the frozen backbone's weights ({weights or 'not stored: backbone_cache=false'}) "
                             f"are gone; re-run the experiment with backbone_cache=true to store them again")
        backbone = frozen_backbone(path, weights, config, ck["num_classes"])
        if ck.get("backbone_digest") not in (None, state_digest(backbone)):
            raise EExitError(f"{path}: the frozen backbone's weights file {weights} changed since this checkpoint was "
                             f"written (its digest differs), so the heads would read other features; re-run the "
                             f"experiment, or restore that file")
    network = get_class(ck.get("network_class", "eexit.models.early_exit.EarlyExitNet"))
    net = network.assemble(backbone, ck["attach"], instantiate(ck["head"]), ck["num_classes"], tuple(ck["image_shape"]))
    if ck["network"] is not None:
        net.load_state_dict(ck["network"])
    else:
        net.heads.load_state_dict(ck["heads"])
        net.extra_modules().load_state_dict(ck.get("extra_modules") or {})
    meta = {k: ck[k] for k in ("backbone", "head", "attach", "backbone_weights", "image_shape")}
    return ExitCheckpoint(net.to(device).eval(), ExitPolicy.from_dict(ck["policy"]), ck["data"], meta)


def frozen_backbone(path: Path, weights: str, config: dict, num_classes: int):
    """The frozen backbone a checkpoint references, built from ``config`` with the weights in ``weights`` (a cache
    entry, or the user's file for a library model); one line when that file no longer holds what it did."""
    changed = (f"{path}: the frozen backbone's weights file {weights} no longer holds the backbone's weights "
               f"({{}}); restore that file, or re-run the experiment to store them again")
    try:
        state = load_tensors(weights, "weights file")
    except UnreadableFile as exc:
        raise EExitError(changed.format(exc.reason)) from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise EExitError(changed.format(f"it holds a {type(state).__name__}"))
    try:
        if all(k.startswith("blocks.") for k in state):   # a staged backbone's own keys (a cache entry)
            backbone = instantiate(config, num_classes=num_classes)
            backbone.load_state_dict(state)
            return backbone
        return instantiate(config, num_classes=num_classes, weights=weights)   # a timm/torchvision model's file
    except InstantiationException as exc:
        if isinstance(exc.__cause__, EExitError):
            raise EExitError(changed.format(exc.__cause__)) from None
        raise
    except RuntimeError as exc:   # load_state_dict: other keys or shapes
        raise EExitError(changed.format(str(exc).splitlines()[0][:120])) from None
