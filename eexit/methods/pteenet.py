"""PTEENet (methods.md §2): exits with a learned confidence post-trained on a frozen backbone.

The backbone stays in eval mode with no gradients (its BN statistics never move); its
features at the attach points are cached once. All heads train together with the
cost-aware loss (v1, or v2 divided by the number of early exits) against the
backbone's own predictions (``method.targets=backbone``, default) or the labels.
At inference a sample leaves at the first exit whose confidence passes T.
"""
from __future__ import annotations

import time

from omegaconf import OmegaConf

from eexit.costs import exit_costs
from eexit.features import FeatureLoader
from eexit.methods.cost_aware import FeatureCostAwareModule
from eexit.methods.frozen import build_net, evaluate_banks, feature_banks, freeze, publish
from eexit.trainer import make_trainer


def loss_costs(net):
    """Cost fractions used in training: exit costs incl. heads, with the final exit at 1."""
    costs = exit_costs(net).fractions.float()
    costs[-1] = 1.0
    return costs


def run_pteenet(ctx, results: dict) -> dict:
    cfg = ctx.cfg
    net = build_net(ctx)
    banks = feature_banks(ctx, net)
    train, val = banks["train"], banks["val"]
    hcfg = cfg.method.head_train
    loader = FeatureLoader(train, train.targets(cfg.method.targets), hcfg.batch_size, shuffle=True, seed=cfg.seed)
    val_loader = FeatureLoader(val, val.targets(cfg.method.targets), 1024)
    module = FeatureCostAwareModule(
        list(net.heads), {"train": train.final_logits, "val": val.final_logits},
        loss=OmegaConf.to_container(cfg.method.loss, resolve=True), costs=loss_costs(net),
        optim=OmegaConf.to_container(hcfg.optim, resolve=True), prefix="pteenet", num_train=len(train), seed=cfg.seed)
    trainer = make_trainer(cfg.trainer, ctx.loggers, hcfg.epochs)
    start = time.perf_counter()
    trainer.fit(module, loader, val_loader)
    freeze(net.heads)
    regime = evaluate_banks(ctx, net, banks, "pteenet", {"train_seconds": time.perf_counter() - start,
                                                         "loss": OmegaConf.to_container(cfg.method.loss)})
    return publish(results, {"pteenet": regime}, "pteenet")
