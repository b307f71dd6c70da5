"""Any nn.Module as a staged backbone (eexit.models.backbones.module_backbone): the cut network computes what
the network computes, cut where the user says, and refuses what it cannot stage in one line."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from eexit.errors import EExitError
from eexit.models.backbones import module_backbone


class Net(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layer2(self.layer1(self.stem(x))), 1), 1))


def test_the_staged_network_computes_what_the_network_computes():
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(4, 3, 32, 32)
    expected = net(x)
    staged = module_backbone(net, num_classes=10, stages=["stem", "layer1"]).eval()
    assert staged.block_names == ["stem", "layer1", "classifier"] and staged.arch == "module-Net"
    torch.testing.assert_close(staged(x), expected, rtol=1e-5, atol=1e-5)
    h = staged(x, 0, 1)   # resumes mid-network: the first block, then the rest
    assert h.shape == (4, 8, 32, 32)
    torch.testing.assert_close(staged(h, 1, staged.num_blocks), expected, rtol=1e-5, atol=1e-5)


def test_without_stages_it_cuts_at_each_resolution_and_resizes_the_classifier():
    staged = module_backbone(Net(classes=1000), num_classes=3)
    assert staged.num_blocks >= 3 and staged(torch.randn(2, 3, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize("kwargs,says", [
    ({"model": Net(), "stages": ["stem", "layr1"]}, "layr1 is not one"),
    ({"model": nn.Sequential(nn.Conv2d(3, 4, 3))}, "ends in an nn.Linear"),
    ({"model": "my_net.Net"}, "an nn.Module"),
    ({"model": Net(), "example_size": 0}, "example_size=0"),
])
def test_what_cannot_be_staged_is_one_line(kwargs, says):
    with pytest.raises(EExitError, match=says):
        module_backbone(**kwargs)
