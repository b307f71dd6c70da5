"""EENets' cost-aware losses v0-v4 (docs/methods.md, `eenets`) and PTEENet's v2 variant (`pteenet`), as pure functions.

Notation: exits 0..N, N the final one; ``p_i`` softmax of exit i, ``h_i`` the sigmoid
confidence of early exit i, ``c_i`` its cost fraction, ``y`` the target. Every function
takes ``logits`` (list of N+1 tensors [B, K]), ``conf`` (list of N tensors [B]) and
``costs`` (tensor [N+1]), so each is tested against a hand computation. Logs are taken
of probabilities clamped at ``EPS``; every constant follows the inputs' dtype and device.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from eexit.errors import BadArgument

EPS = 1e-12


def _nll(prob: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.nll_loss(prob.clamp_min(EPS).log(), y)


def mixtures(logits, conf, costs) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The recursions P̂_i = h_i p_i + (1-h_i) P̂_{i+1}, Ĉ_i = h_i c_i + (1-h_i) Ĉ_{i+1},
    from P̂_N = p_N, Ĉ_N = c_N. Returns lists indexed 0..N."""
    n = len(logits) - 1
    costs = costs.to(logits[n])  # costs stay tensors: float(cuda tensor) would sync the host every step
    p_hat = logits[n].softmax(1)
    c_hat = torch.zeros_like(conf[0] if conf else logits[n][:, 0]) + costs[n]
    ps, cs = [p_hat], [c_hat]
    for i in range(n - 1, -1, -1):
        h = conf[i]
        p_hat = h.unsqueeze(1) * logits[i].softmax(1) + (1 - h).unsqueeze(1) * p_hat
        c_hat = h * costs[i] + (1 - h) * c_hat
        ps.insert(0, p_hat)
        cs.insert(0, c_hat)
    return ps, cs


def loss_v0(logits, conf, costs, y, lam=0.0) -> torch.Tensor:
    """Sum of the exits' cross-entropies (no cost term): the first stage of the two-stage schedule."""
    return sum(F.cross_entropy(z, y) for z in logits)


def loss_v1(logits, conf, costs, y, lam=1.0) -> torch.Tensor:
    """NLL of the expected prediction from exit 0 plus λ times the expected cost."""
    ps, cs = mixtures(logits, conf, costs)
    return _nll(ps[0], y) + lam * cs[0].mean()


def loss_v2(logits, conf, costs, y, lam=1.0, divide_by_exits: bool = False) -> torch.Tensor:
    """v1 applied at every depth i = 0..N and summed; PTEENet divides the sum by the number of early exits."""
    ps, cs = mixtures(logits, conf, costs)
    total = sum(_nll(p, y) + lam * c.mean() for p, c in zip(ps, cs))
    return total / max(1, len(conf)) if divide_by_exits else total


def v3_weights(conf) -> torch.Tensor:
    """Batch-mean confidences as exit weights, normalised to sum 1. The final exit has no
    confidence head here, so its weight is the batch-mean probability of reaching it, Π(1-h_j)."""
    reach = torch.ones_like(conf[0]) if conf else None
    means = []
    for h in conf:
        means.append(h.mean())
        reach = reach * (1 - h)
    means.append(reach.mean() if reach is not None else torch.tensor(1.0))
    w = torch.stack(means)
    return w / w.sum().clamp_min(EPS)


def loss_v3(logits, conf, costs, y, lam=1.0) -> torch.Tensor:
    """Σ_i w_i (CE_i + λ c_i) with ``v3_weights``; exit threshold at inference becomes 1/N."""
    w = v3_weights(conf)
    costs = costs.to(logits[0])
    return sum(w[i] * (F.cross_entropy(z, y) + lam * costs[i]) for i, z in enumerate(logits))


def per_sample_ce(logits, y) -> torch.Tensor:
    """Cross-entropy of every exit on every sample, ``[N+1, B]``."""
    return torch.stack([F.cross_entropy(z, y, reduction="none") for z in logits])


def v4_tags(ce: torch.Tensor, costs: torch.Tensor, lam: float) -> torch.Tensor:
    """Hard exit tag per sample: argmin_i CE_i + λ c_i. ``ce`` is [N+1, B] per-sample cross-entropy."""
    return (ce + lam * costs.to(ce).view(-1, 1)).argmin(0)


def v4_confidence_term(h: torch.Tensor, tags: torch.Tensor, i: int, weighting: str = "reference") -> torch.Tensor:
    """BCE teaching ``h`` (exit i's confidence) to fire on the samples tagged i.

    ``reference`` (EENets' code): over the whole batch, positives weighted by the rate of
    negatives (1 - r) and negatives by the rate of positives r, averaged over the batch, so
    the term scales as 2r(1-r) and vanishes when every sample or none is tagged i.
    ``balanced`` (eexit's earlier choice): over the samples that reach exit i (tag >= i),
    positives and negatives weighted 0.5 each in total."""
    target = (tags == i).to(h.dtype)
    bce = F.binary_cross_entropy(h.clamp(EPS, 1 - EPS), target, reduction="none")
    if weighting == "reference":
        r = target.mean()
        return ((target * (1 - r) + (1 - target) * r) * bce).mean()
    if weighting != "balanced":
        raise BadArgument("cost_aware_loss", "weighting", weighting, "reference or balanced")
    reach = (tags >= i).to(h.dtype)   # masked, so no host sync: shapes never depend on the tags
    n_reach = reach.sum().clamp_min(1)
    pos = (target * reach).sum() / n_reach
    mixed = (pos > 0) & (pos < 1)
    w_pos = torch.where(mixed, 0.5 / pos.clamp_min(EPS), torch.ones_like(pos))
    w_neg = torch.where(mixed, 0.5 / (1 - pos).clamp_min(EPS), torch.ones_like(pos))
    return (torch.where(target > 0, w_pos, w_neg) * reach * bce).sum() / n_reach


def loss_v4(logits, conf, costs, y, lam=1.0, tags: torch.Tensor | None = None,
            weighting: str = "reference") -> torch.Tensor:
    """Prediction and cost from each sample's tagged exit, plus :func:`v4_confidence_term` per
    early exit (the final exit has no confidence head here, and always exits anyway).
    ``tags`` [B]: the tags to train on; EENets fixes them for an epoch (computed from the previous
    epoch's outputs, random in the first). Without them they come from this batch's outputs."""
    ce = per_sample_ce(logits, y)                                                  # [N+1, B]
    if tags is None:
        tags = v4_tags(ce.detach(), costs, lam)
    picked = ce.gather(0, tags.view(1, -1)).squeeze(0)
    loss = picked.mean() + lam * costs.to(ce)[tags].mean()
    for i, h in enumerate(conf):
        loss = loss + v4_confidence_term(h, tags, i, weighting)
    return loss


LOSSES = {"v0": loss_v0, "v1": loss_v1, "v2": loss_v2, "v3": loss_v3, "v4": loss_v4}


def cost_aware_loss(version: str, logits, conf, costs, y, lam: float, divide_by_exits: bool = False,
                    tags: torch.Tensor | None = None, weighting: str = "reference"):
    """``tags`` and ``weighting``: v4 only (each sample's exit tag; the confidence-term weighting)."""
    if version not in LOSSES:
        raise BadArgument("cost_aware_loss", "version", version, "one of " + ", ".join(LOSSES))
    if version == "v2":
        return loss_v2(logits, conf, costs, y, lam, divide_by_exits)
    if version == "v4":
        return loss_v4(logits, conf, costs, y, lam, tags, weighting)
    return LOSSES[version](logits, conf, costs, y, lam)
