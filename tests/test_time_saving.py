"""Each operating point's measured time saving: its fields, and that it follows where the images leave (nothing
exits: no time saved within noise; everything at the first exit: most of the backbone's time saved)."""
from __future__ import annotations

import torch

from eexit.bench.networks import build_net, random_images
from eexit.deploy.time_saving import time_saving
from eexit.exits import ExitPolicy
from eexit.reporting.summary import time_text


def test_time_saving_follows_the_exits_and_says_what_it_measured():
    net = build_net("resnet20", "conv1d", "linear", 3, image_shape=(3, 32, 32))
    images = random_images((3, 32, 32), 16)
    cpu = torch.device("cpu")
    nobody = time_saving(net, ExitPolicy("max_softmax", torch.full((3, 10), 2.0)), images, cpu)   # softmax < 2: stays
    first = time_saving(net, ExitPolicy("max_softmax", torch.full((3, 10), -1.0)), images, cpu)   # every image at exit 0
    assert nobody["images"] == 16 and nobody["device"] == "cpu" and nobody["batch"]["size"] == 16
    for timed in (nobody, first):
        for key in ("batch_1", "batch"):
            t = timed[key]
            assert 0 < t["p50_ms"] <= t["p95_ms"] and 0 < t["plain_p50_ms"] <= t["plain_p95_ms"]
            assert t["saving"] < 1
    # nothing exits: every head runs on top of the whole backbone, so no time is saved (noise allowed: 10 %)
    assert nobody["batch_1"]["saving"] < 0.10 and nobody["batch"]["saving"] < 0.10
    # exit 0 of a linear placement sits a quarter of the way in: well over a third of the time is saved
    assert first["batch_1"]["saving"] > 0.35 and first["batch"]["saving"] > 0.35
    assert time_text(first).startswith(f" (time {-100 * first['batch_1']['saving']:+.0f}% at batch 1, ")
