"""Networks and inputs for latency measurements: a random-weight early-exit network of any backbone and head,
random images, exit thresholds that meet a chosen mix, the plain network and a checkpoint's own test images."""
from __future__ import annotations


import torch

from eexit.costs.flops import block_macs, cumulative
from eexit.costs.placement import place_by_rule
from eexit.models.backbones import build_backbone
from eexit.models.early_exit import EarlyExitNet
from eexit.models.fold import fold_batchnorm
from eexit.models.heads import build_head
from eexit.training import predict_exits


MIXES = {"early-heavy": [0.6, 0.2, 0.1], "balanced": [0.3, 0.2, 0.2], "late": [0.1, 0.1, 0.2]}


DEFAULT_IMAGE = (3, 32, 32)   # the random-weight benchmark's input; --image-size changes it


def build_net(backbone: str, head: str, rule: str, exits: int, fold: bool = True,
              image_shape: tuple[int, ...] = DEFAULT_IMAGE) -> EarlyExitNet:
    """Random-weight net for ``image_shape`` inputs (``backbone``: an eexit name, or
    ``timm:<model>`` / ``torchvision:<model>``); ``fold``: BatchNorm folded into the convolutions
    (the deployed form), which speeds the plain backbone and the early-exit path alike."""
    torch.manual_seed(0)
    bb = build_backbone(backbone).eval()
    attach = place_by_rule(rule, exits, cumulative(block_macs(bb, image_shape)))
    shapes = bb.feature_shapes(image_shape)
    net = EarlyExitNet(bb, attach, [build_head(head, shapes[a], 10) for a in attach]).eval()
    return fold_batchnorm(net)[0] if fold else net


def random_images(image_shape: tuple[int, ...], n: int) -> torch.Tensor:
    return torch.randn(n, *image_shape, generator=torch.Generator().manual_seed(1))


def exit_outputs(net: EarlyExitNet, images: torch.Tensor, device: torch.device):
    """Every exit's outputs on ``images`` (in chunks of 512, labels unused), for setting thresholds."""
    return predict_exits(net, [(images[i:i + 512], torch.zeros(min(512, images.shape[0] - i), dtype=torch.long))
                               for i in range(0, images.shape[0], 512)], accelerator=device.type)


def thresholds_for_mix(scores: torch.Tensor, mix: list[float]) -> torch.Tensor:
    """Per-head global thresholds so that fraction ``mix[k]`` of all samples leaves at head k."""
    n = scores.shape[1]
    alive = torch.ones(n, dtype=torch.bool)
    rows = []
    for k, frac in enumerate(mix):
        want = int(round(frac * n))
        s = scores[k][alive].sort(descending=True).values
        thr = float(s[want - 1]) if want > 0 else float("inf")
        rows.append(thr)
        alive &= ~(scores[k] >= thr)
    return torch.tensor(rows).view(-1, 1).expand(-1, 10).contiguous()


class Plain(torch.nn.Module):
    """The whole backbone as one graph (the plain network an early exit is compared against)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)


def checkpoint_images(data_cfg: dict, count: int) -> tuple[torch.Tensor, str]:
    """The first ``count`` normalised test images of the run's dataset (as evaluation sees them)
    and the dataset's name."""
    from hydra.utils import instantiate
    dm = instantiate(data_cfg)
    chunks, have = [], 0
    for x, _ in dm.loader("test"):
        chunks.append(x.cpu())
        have += x.shape[0]
        if have >= count:
            break
    return torch.cat(chunks)[:count], dm.name
