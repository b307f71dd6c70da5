"""Training speed, eexit against a hand-written loop: the same backbone, data on the device, crop and flip on the
device, plain PyTorch's images per second beside the framework's (Lightning, lean settings). ``benchmarks/bench.py``
part (a)."""
from __future__ import annotations

import functools
import time

import lightning as L
import torch
import torch.nn.functional as F

from eexit.data.loader import TensorBatchLoader
from eexit.models.backbones import build_backbone
from eexit.models.early_exit import EarlyExitNet
from eexit.training import ChannelsLast, EarlyExitModule, ExitCrossEntropy

GPU = torch.cuda.is_available()
DEVICE = torch.device("cuda" if GPU else "cpu")


def sync():
    if GPU:
        torch.cuda.synchronize()


def synthetic(n: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, 32, 32), generator=gen, dtype=torch.uint8).to(DEVICE),
            torch.randint(0, 10, (n,), generator=gen).to(DEVICE))


def loader(images, labels, batch):
    return TensorBatchLoader(images, labels, batch, torch.full((3,), 0.5), torch.full((3,), 0.25), shuffle=True,
                             crop_padding=4, flip=True, drop_last=True)


def plain_loop(arch: str, images, labels, batch: int, epochs: int) -> float:
    """Images/s of a hand-written loop: the reference the framework is measured against."""
    torch.manual_seed(0)
    model = build_backbone(arch).to(DEVICE)
    if GPU:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    data = loader(images, labels, batch)
    seen, seconds = 0, 0.0
    for epoch in range(epochs + 1):  # epoch 0 warms up
        sync()
        start = time.perf_counter()
        for x, y in data:
            x = x.contiguous(memory_format=torch.channels_last if GPU else torch.contiguous_format)
            with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=GPU):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync()
        if epoch:
            seconds += time.perf_counter() - start
            seen += len(data) * batch
    return seen / seconds


class EpochTimer(L.Callback):
    def __init__(self):
        self.times = []

    def on_train_epoch_start(self, trainer, module):
        sync()
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        sync()
        self.times.append(time.perf_counter() - self.start)


def framework(arch: str, images, labels, batch: int, epochs: int) -> float:
    torch.manual_seed(0)
    model = build_backbone(arch)
    optimizer = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    module = EarlyExitModule(EarlyExitNet(model, [], []), ExitCrossEntropy(), optimizer, backbone_trainable=True)
    timer = EpochTimer()
    trainer = L.Trainer(accelerator=DEVICE.type, devices=1, precision="bf16-mixed" if GPU else "32-true",
                        max_epochs=epochs + 1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                        callbacks=[timer, ChannelsLast("auto")])
    data = loader(images, labels, batch)
    trainer.fit(module, data)
    return len(data) * batch * epochs / sum(timer.times[1:])


def training_rows(arch, images, labels, batch, epochs, n_train) -> list[str]:
    plain = plain_loop(arch, images, labels, batch, epochs)
    ours = framework(arch, images, labels, batch, epochs)
    return [f"(a) training, {arch}, batch {batch}, {'bf16' if GPU else 'fp32'}, data on {DEVICE.type}, "
            f"crop+flip on the device, {n_train} images x {epochs} timed epochs:", "",
            "| loop | images/s |", "|---|---|", f"| plain PyTorch | {plain:.0f} |",
            f"| eexit (Lightning, lean) | {ours:.0f} |", f"| ratio | {ours / plain:.2f} |", ""]
