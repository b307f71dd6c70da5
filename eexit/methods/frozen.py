"""Shared steps of the frozen-backbone regimes (non-boosted, BTS-EE, PTEENet):
build heads at the placement, cache features once, train heads, evaluate a regime."""
from __future__ import annotations

import json
import logging
import time

import torch
from omegaconf import OmegaConf

from eexit.costs import exit_costs
from eexit.deploy import backbone_weights_file, save_exit_checkpoint
from eexit.evaluation import CachedExits, curve, evaluate, headline, pareto_front
from eexit.exits import ExitPolicy
from eexit.exits.calibrate import configured, settings, thresholds_fn
from eexit.features import FeatureBank, FeatureLoader, extract, streamed
from eexit.flops import block_macs, cumulative
from eexit.methods.heads_module import HeadsModule
from eexit.models.early_exit import EarlyExitNet
from eexit.models.heads import build_head
from eexit.placement import resolve_placement
from eexit.trainer import make_trainer

log = logging.getLogger(__name__)


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    """No gradients and eval mode (BN statistics fixed)."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def build_net(ctx, head_cfg=None) -> EarlyExitNet:
    """Heads at the configured placement on the (frozen) backbone. Heads are initialised from
    ``seed``, so two regimes built in one run start from identical heads."""
    cfg, backbone = ctx.cfg, freeze(ctx.backbone)
    head_cfg = head_cfg or cfg.head
    attach = resolve_placement(cfg.placement.blocks, cfg.placement.num_exits, cfg.placement.rule,
                               cumulative(block_macs(backbone)))
    shapes = backbone.feature_shapes()
    torch.manual_seed(cfg.seed)
    options = OmegaConf.to_container(head_cfg.options, resolve=True) if head_cfg.options else {}
    heads = [build_head(head_cfg.kind, shapes[a], ctx.dm.num_classes, **options) for a in attach]
    return EarlyExitNet(backbone, attach, heads).to(ctx.device)


_LAST_BANKS: dict = {}


def feature_banks(ctx, net) -> dict[str, FeatureBank]:
    """Features of train/val/test at the net's attach points, computed once.

    The most recent bank is also kept across the jobs of an in-process multirun,
    keyed by everything that determines it (backbone weights, data, attach points),
    so a sweep pays one extraction per placement instead of one per job.
    """
    if not ctx.cfg.method.get("feature_cache", True):
        return {s: streamed(net, ctx.dm, s, ctx.device) for s in ("train", "val", "test")}
    key = (ctx.backbone_info.get("cache_path") or ctx.backbone_info.get("source"),
           json.dumps(ctx.dm.describe(), sort_keys=True), tuple(net.attach), str(ctx.device))
    if ctx.backbone_info.get("source") not in ("cache", "trained") or _LAST_BANKS.get("key") != key:
        _LAST_BANKS.clear()
        start = time.perf_counter()
        dtype = torch.bfloat16 if ctx.device.type == "cuda" else torch.float32
        banks = {s: extract(net, ctx.dm.loader(s), ctx.device, dtype) for s in ("train", "val", "test")}
        log.info("feature cache: %d/%d/%d samples at blocks %s in %.1f s", *(len(banks[s])
                 for s in ("train", "val", "test")), list(net.attach), time.perf_counter() - start)
        _LAST_BANKS.update(key=key, banks=banks)
    else:
        log.info("feature cache: reusing features at blocks %s from the previous job", list(net.attach))
    return _LAST_BANKS["banks"]


@torch.no_grad()
def bank_outputs(net, bank: FeatureBank, batch_size: int = 1024) -> CachedExits:
    """All heads (eval mode) on cached features + the backbone's cached final logits."""
    net.heads.eval()
    n = len(bank)
    logits = torch.empty(net.num_exits + 1, n, bank.final_logits.shape[1])
    confs = torch.full((net.num_exits, n), float("nan"))
    for i, head in enumerate(net.heads):  # chunks stay on the device; one copy to the host per head
        outs = [head(bank.feats[i][s:s + batch_size].float()) for s in range(0, n, batch_size)]
        logits[i] = torch.cat([o.logits.float() for o in outs]).cpu()
        if outs[0].confidence is not None:
            confs[i] = torch.cat([o.confidence.float() for o in outs]).cpu()
    logits[-1] = bank.final_logits.cpu()
    return CachedExits(logits, confs, bank.labels.cpu())


def fit_heads(ctx, heads: list, bank_train: FeatureBank, targets, points: list[int], prefix: str,
              train_idx=None, bank_val: FeatureBank | None = None, val_idx=None) -> float:
    """Train ``heads`` (reading attach points ``points``) with cross-entropy; returns seconds."""
    hcfg = ctx.cfg.method.head_train
    loader = FeatureLoader(bank_train, targets, hcfg.batch_size, train_idx, shuffle=True,
                           seed=ctx.cfg.seed, points=points)
    val_loader = None
    if bank_val is not None:
        val_loader = FeatureLoader(bank_val, bank_val.targets(ctx.cfg.method.targets), 1024, val_idx,
                                   points=points)
    module = HeadsModule(heads, OmegaConf.to_container(hcfg.optim, resolve=True), prefix)
    trainer = make_trainer(ctx.cfg.trainer, ctx.loggers, hcfg.epochs,
                           limit_val_batches=1.0 if val_loader is not None else 0)
    start = time.perf_counter()
    trainer.fit(module, loader, val_loader)
    return time.perf_counter() - start


def evaluate_banks(ctx, net, banks, name: str, extra: dict | None = None) -> dict:
    """``evaluate_regime`` on the heads' outputs over cached val/test features."""
    return evaluate_regime(ctx, net, bank_outputs(net, banks["val"]), bank_outputs(net, banks["test"]), name, extra)


def evaluate_regime(ctx, net, val: CachedExits, test: CachedExits, name: str, extra: dict | None = None,
                    whole_network: bool = False) -> dict:
    """Calibrate on validation, evaluate on test: cost per exit, curve, Pareto front, headline,
    the configured operating point, and a check that real-skip inference matches it. Saves the
    exit-network checkpoint (``whole_network``: with the backbone's weights, for joint training)."""
    pcfg = ctx.cfg.policy
    costs = exit_costs(net)
    fractions = costs.fractions
    calib = thresholds_fn(pcfg, val)
    points = curve(test, pcfg.score, settings(pcfg, val), calib, fractions)
    setting = configured(pcfg)
    thresholds = calib(setting)
    point = {"setting": setting, **evaluate(test, pcfg.score, thresholds, fractions)}
    policy = ExitPolicy(pcfg.score, thresholds)
    regime = {"head": ctx.cfg.head.kind, "exits": costs.to_rows(net.backbone.block_names), "attach": list(net.attach),
              "head_macs_fraction": sum(costs.head_macs) / costs.backbone_macs,
              "curve": points, "pareto_front": pareto_front(points),
              "headline": headline(points, ctx.backbone_info["test_acc"]),
              "operating_point": point, "policy": policy.to_dict(),
              "real_skip_matches": real_skip_matches(ctx, net, policy, point, test), **(extra or {})}
    ckpt = ctx.run_dir / "checkpoints" / f"{name}.pt"
    save_exit_checkpoint(ckpt, net, policy, OmegaConf.to_container(ctx.cfg, resolve=True),
                         backbone_weights_file(ctx.backbone_info), whole_network=whole_network)
    regime["checkpoint"] = str(ckpt)
    for lg in ctx.loggers:
        lg.log_metrics({f"{name}/test_acc": point["test_acc"], f"{name}/cost_fraction": point["cost_fraction"],
                        f"{name}/agreement": point["agreement"]})
    return regime


@torch.no_grad()
def real_skip_matches(ctx, net, policy, point: dict, test: CachedExits) -> bool:
    """Run the deployed ``infer`` path on the test split; its exit histogram must equal the simulation's."""
    exits = []
    for x, _ in ctx.dm.loader("test"):
        _, e = net.eval().infer(x.to(ctx.device), policy)
        exits.append(e.cpu())
    hist = torch.bincount(torch.cat(exits), minlength=net.num_exits + 1).double() / test.labels.numel()
    ok = torch.allclose(hist, torch.tensor(point["exit_fractions"], dtype=torch.float64), atol=2e-3)
    if not ok:  # bf16/TF32 numerics can move a borderline sample; report it, never hide it
        log.warning("real-skip exit histogram %s differs from the simulated %s", hist.tolist(), point["exit_fractions"])
    return bool(ok)


PRIMARY_KEYS = ("exits", "curve", "pareto_front", "headline", "operating_point")


def publish(results: dict, regimes: dict[str, dict], primary: str) -> dict[str, list]:
    """Put the regimes into ``results`` (the primary one's curve and headline at top level)
    and return the curves to plot."""
    results.update({k: regimes[primary][k] for k in PRIMARY_KEYS})
    results["regimes"] = regimes
    results["headlines"] = {name: r["headline"] for name, r in regimes.items()}
    return {name: r["curve"] for name, r in regimes.items()}
