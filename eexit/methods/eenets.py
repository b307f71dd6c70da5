"""EENets (methods.md §3): backbone and exit blocks trained jointly from scratch with a
cost-aware loss; a sample leaves at the first exit whose confidence passes T.

The plain backbone the pipeline pretrains (and caches) is the reference the headline is
measured against, as EENets compare with their plain ResNet counterparts.
"""
from __future__ import annotations

import time

import torch
from omegaconf import OmegaConf

from eexit.evaluation import collect
from eexit.flops import block_macs, cumulative
from eexit.methods.cost_aware import JointCostAwareModule
from eexit.methods.frozen import evaluate_regime, publish
from eexit.methods.pteenet import loss_costs
from eexit.models.backbones import build_backbone
from eexit.models.early_exit import EarlyExitNet
from eexit.models.heads import build_head
from eexit.placement import resolve_placement
from eexit.trainer import make_trainer, prepare


def build_joint_net(cfg, num_classes: int) -> EarlyExitNet:
    torch.manual_seed(cfg.seed)
    backbone = build_backbone(cfg.backbone.name, num_classes)
    attach = resolve_placement(cfg.placement.blocks, cfg.placement.num_exits, cfg.placement.rule,
                               cumulative(block_macs(backbone)))
    shapes = backbone.feature_shapes()
    options = OmegaConf.to_container(cfg.head.options, resolve=True) if cfg.head.options else {}
    return EarlyExitNet(backbone, attach, [build_head(cfg.head.kind, shapes[a], num_classes, **options)
                                           for a in attach])


def run_eenets(ctx, results: dict) -> dict:
    cfg = ctx.cfg
    net = build_joint_net(cfg, ctx.dm.num_classes).to(ctx.device)
    loss = OmegaConf.to_container(cfg.method.loss, resolve=True)
    train_loader = ctx.dm.loader("train", train=True, with_index=loss["version"] == "v4")
    module = JointCostAwareModule(net, loss=loss, costs=loss_costs(net),
                                  optim=OmegaConf.to_container(cfg.method.optim, resolve=True), prefix="eenets",
                                  num_train=train_loader.images.shape[0], seed=cfg.seed)
    prepare(module, net, cfg.trainer)  # net's forward is forward_all, so a compiled net serves outputs()
    trainer = make_trainer(cfg.trainer, ctx.loggers, cfg.method.epochs)
    start = time.perf_counter()
    trainer.fit(module, train_loader, ctx.dm.val_dataloader())
    seconds = time.perf_counter() - start
    net.to(ctx.device, memory_format=torch.contiguous_format).eval()
    val, test = collect(net, ctx.dm.loader("val"), ctx.device), collect(net, ctx.dm.loader("test"), ctx.device)
    final_acc = float((test.backbone_pred == test.labels).double().mean())
    regime = evaluate_regime(ctx, net, val, test, "eenets", {
        "train_seconds": seconds, "final_exit_test_acc": final_acc,
        "loss": OmegaConf.to_container(cfg.method.loss)}, whole_network=True)
    return publish(results, {"eenets": regime}, "eenets")
