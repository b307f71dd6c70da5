"""Non-boosted training: every head on the full training set at once, backbone frozen in eval
mode (BTS-EE's baseline, and the plainest use of the early-exit core)."""
from __future__ import annotations

from eexit.methods.frozen import bank_outputs, build_net, evaluate_regime, feature_banks, fit_heads, freeze


def train_nonboosted(ctx, net, banks) -> dict:
    train = banks["train"]
    seconds = fit_heads(ctx, list(net.heads), train, train.targets(ctx.cfg.method.targets),
                        list(range(net.num_exits)), "nonboosted", bank_val=banks["val"])
    freeze(net.heads)
    return {"train_seconds": seconds}


def run_nonboosted(ctx, results: dict) -> dict:
    net = build_net(ctx)
    banks = feature_banks(ctx, net)
    regime = evaluate_regime(ctx, net, banks, "nonboosted", train_nonboosted(ctx, net, banks))
    results.update({k: regime[k] for k in ("exits", "curve", "pareto_front", "headline", "operating_point")})
    results["regimes"] = {"nonboosted": regime}
    results["headlines"] = {"nonboosted": regime["headline"]}
    return {"nonboosted": regime["curve"]}


__all__ = ["run_nonboosted", "train_nonboosted", "bank_outputs"]
