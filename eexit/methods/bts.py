"""BTS-EE boosted training (methods.md §1).

Stage k trains head k only on the training samples that the calibrated heads
0..k-1 do not exit, calibrates head k on the validation samples they do not exit,
freezes it, and moves on. The backbone stays frozen in eval mode throughout.
"""
from __future__ import annotations

import logging

import torch

from eexit.exits.calibrate import configured, thresholds_fn
from eexit.exits import ExitPolicy
from eexit.methods.frozen import bank_outputs, build_net, evaluate_banks, feature_banks, fit_heads, freeze, publish
from eexit.methods.nonboosted import train_nonboosted

log = logging.getLogger(__name__)


@torch.no_grad()
def exits_at(head, feats: torch.Tensor, thresholds_row: torch.Tensor, score_kind: str,
             batch_size: int = 2048) -> torch.Tensor:
    """Boolean [N]: which samples head leaves at, given its per-class thresholds."""
    head.eval()
    policy = ExitPolicy(score_kind, thresholds_row.view(1, -1))
    out = []
    for start in range(0, feats.shape[0], batch_size):
        o = head(feats[start:start + batch_size].float())
        out.append(policy.decide(0, o.logits, o.confidence)[0])
    return torch.cat(out)


def train_boosted(ctx, net, banks) -> dict:
    cfg = ctx.cfg
    train, val = banks["train"], banks["val"]
    targets = train.targets(cfg.method.targets)
    fixed = torch.full((net.num_exits, ctx.dm.num_classes), float("nan"))
    alive_train = torch.ones(len(train), dtype=torch.bool, device=train.labels.device)
    alive_val = torch.ones(len(val), dtype=torch.bool, device=val.labels.device)
    stages, seconds = [], 0.0
    for k, head in enumerate(net.heads):
        pool = alive_train.nonzero().squeeze(1)
        trained = pool.numel() >= cfg.method.min_pool
        if trained:
            seconds += fit_heads(ctx, [head], train, targets, [k], f"boosted/head{k}", train_idx=pool,
                                 bank_val=val, val_idx=alive_val.nonzero().squeeze(1))
        else:
            log.warning("boosted stage %d: only %d training samples survive (< min_pool %d); head left untrained",
                        k, pool.numel(), cfg.method.min_pool)
        freeze(head)
        fixed[k] = thresholds_fn(cfg.policy, bank_outputs(net, val), fixed)(configured(cfg.policy))[k]
        leave_train = exits_at(head, train.feats[k], fixed[k], cfg.policy.score)
        leave_val = exits_at(head, val.feats[k], fixed[k], cfg.policy.score)
        stages.append({"head": k, "train_pool": int(pool.numel()), "trained": trained,
                       "train_exited": int((leave_train & alive_train).sum()),
                       "val_pool": int(alive_val.sum()), "val_exited": int((leave_val & alive_val).sum())})
        alive_train &= ~leave_train
        alive_val &= ~leave_val
        log.info("boosted stage %d: trained on %d samples, %d exit here", k, pool.numel(), stages[-1]["train_exited"])
    return {"train_seconds": seconds, "stages": stages}


def run_bts(ctx, results: dict) -> dict:
    net = build_net(ctx)
    banks = feature_banks(ctx, net)
    regimes = {"boosted": evaluate_banks(ctx, net, banks, "boosted", train_boosted(ctx, net, banks))}
    if ctx.cfg.method.compare_nonboosted:
        base = build_net(ctx)  # same init seed: identical starting heads
        regimes["nonboosted"] = evaluate_banks(ctx, base, banks, "nonboosted", train_nonboosted(ctx, base, banks))
    if "nonboosted" in regimes:
        results["comparison"] = compare(regimes["boosted"]["headline"], regimes["nonboosted"]["headline"])
    return publish(results, regimes, "boosted")


def compare(boosted: dict, nonboosted: dict) -> dict:
    """Cost reduction of both modes per allowed drop, and whether boosted wins."""
    out = {}
    for drop in boosted:
        b = (boosted[drop] or {}).get("cost_reduction")
        n = (nonboosted.get(drop) or {}).get("cost_reduction")
        out[drop] = {"boosted": b, "nonboosted": n,
                     "boosted_wins": None if b is None or n is None else bool(b > n)}
    return out
