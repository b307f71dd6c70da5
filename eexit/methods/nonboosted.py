"""Non-boosted training: every head on the full training set at once, backbone frozen in eval
mode (BTS-EE's baseline, and the plainest use of the early-exit core)."""
from __future__ import annotations

from eexit.methods.frozen import build_net, evaluate_banks, feature_banks, fit_heads, freeze, publish


def train_nonboosted(ctx, net, banks) -> dict:
    train = banks["train"]
    seconds = fit_heads(ctx, list(net.heads), train, train.targets(ctx.cfg.method.targets),
                        list(range(net.num_exits)), "nonboosted", bank_val=banks["val"])
    freeze(net.heads)
    return {"train_seconds": seconds}


def run_nonboosted(ctx, results: dict) -> dict:
    net = build_net(ctx)
    banks = feature_banks(ctx, net)
    regime = evaluate_banks(ctx, net, banks, "nonboosted", train_nonboosted(ctx, net, banks))
    return publish(results, {"nonboosted": regime}, "nonboosted")

