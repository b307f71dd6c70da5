"""CIFAR VGG with batch norm (11/13/16/19): one block per conv unit, max-pools folded in."""
from __future__ import annotations

from torch import nn

from eexit.config.arguments import check_arguments
from eexit.models.backbones.staged import Classifier, StagedBackbone, kaiming_init, load_weights

CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}


def vgg_bn(depth: int, num_classes: int = 10, weights: str | None = None) -> StagedBackbone:
    """VGG-``depth``-BN for 32x32 inputs: 5 max-pools take 32x32 to 1x1, then one linear layer."""
    check_arguments(vgg_bn, depth=depth, num_classes=num_classes, weights=weights)
    blocks: list[nn.Module] = []
    names: list[str] = []
    cin = 3
    for item in CONFIGS[depth]:
        if item == "M":
            blocks[-1].append(nn.MaxPool2d(2))
            continue
        blocks.append(nn.Sequential(nn.Conv2d(cin, item, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(item), nn.ReLU(inplace=True)))
        names.append(f"conv{len(names) + 1}")
        cin = item
    blocks.append(Classifier(cin, num_classes))
    names.append("classifier")
    model = StagedBackbone(blocks, names, f"vgg{depth}_bn", num_classes)
    kaiming_init(model)
    return load_weights(model, weights)
