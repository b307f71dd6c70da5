"""Real skip against the plain network: stages timed as chains and at their survivors' batch sizes, the rows of
one exit mix (speed-up beside the FLOP and stage-time predictions), and their table."""
from __future__ import annotations


import torch

from eexit.bench.networks import DEFAULT_IMAGE, MIXES, exit_outputs, random_images, thresholds_for_mix
from eexit.deploy.timing import one_by_one, timed, timed_pair
from eexit.costs import exit_costs
from eexit.errors import EExitError
from eexit.evaluation.curves import simulate
from eexit.exits import ExitPolicy
from eexit.models.early_exit import EarlyExitNet


BUCKETS = [64, 128, 256, 384, 512, 640, 768, 896, 1024]


def chain_times(stage, final, num_exits: int, x: torch.Tensor, repeats: int, device, plain=None) -> list[float]:
    """Seconds a batch ``x`` takes when it leaves at exit k (stages 0..k run one after another, each a
    backbone segment and its head, no decision), for each k, and through every stage and the rest of the
    backbone (last entry). Timed as whole chains, as a sample meets them: a segment timed alone, its weights
    hot in the cache from the previous repeat, runs faster than inside the chain, which made the earlier
    per-segment prediction promise more than any router could deliver. ``plain``: each chain is timed in
    alternation with it, as the real skip is, so both see the cache the plain network leaves behind (timed
    back to back, an early chain kept its small weights in the cache and predicted 5-10 % more than a router
    alternating with the plain network can get)."""
    def upto(k: int):
        h = x
        for i in range(min(k, num_exits - 1) + 1):
            h = stage(i, h)[0]
        return final(h) if k == num_exits else h
    return [timed_pair(lambda k=k: upto(k), plain, repeats, device)[0] for k in range(num_exits + 1)]


def survivor_time(net, x: torch.Tensor, exits: torch.Tensor, plain, repeats: int, device) -> float:
    """Seconds of the stages alone at the batch sizes the survivors of ``x`` have (``exits``: where each sample
    leaves): the real skip's work with the decisions and the compaction taken away, so measured / this is the
    router's own cost. The stage-time prediction scales full-batch stage times by the share of samples, which
    a CPU cannot meet: a stage's time per image grows as its batch shrinks. Timed in alternation with ``plain``."""
    counts = [int((exits >= i).sum()) for i in range(net.num_exits + 1)]

    @torch.inference_mode()
    def ideal():
        h = x
        for i in range(net.num_exits):
            if counts[i] == 0:
                return
            h = net.stage(i, h[:counts[i]])[0]
        if counts[-1]:
            net.final(h[:counts[-1]])
    return timed_pair(ideal, plain, repeats, device)[0]


@torch.no_grad()
def mix_rows(net: EarlyExitNet, device: torch.device, batch: int, samples: int, repeats: int = 20, one_repeats: int = 5,
             images: torch.Tensor | None = None, policies: dict[str, ExitPolicy] | None = None) -> list[dict]:
    """One row per exit policy: fractions, FLOP- and stage-time-predicted speed-ups, measured speed-up,
    and what a deployment engineer reads: per-sample p50/p95/p99 at batch 1, images per second otherwise.

    Default: random images, and for each of ``MIXES`` max-softmax thresholds set on 2048+ of
    them so the mix is met. ``images`` + ``policies``: a trained network's own test images
    and calibrated policy. The fractions and both predictions use the exits of exactly the
    images that are timed (the first ``batch``, or the first ``samples`` fed one by one at
    batch 1), so prediction and measurement see the same mix."""
    if images is None:
        images = random_images(DEFAULT_IMAGE, max(2048, batch, samples))
    if images.shape[0] < max(batch, samples):
        raise EExitError(f"{images.shape[0]} images but batch {batch} / --samples {samples} need more")
    cached = exit_outputs(net, images, device)
    net.to(device).eval()
    costs = exit_costs(net, tuple(images.shape[1:]))
    if policies is None:
        scores = cached.scores("max_softmax")
        policies = {name: ExitPolicy("max_softmax", thresholds_for_mix(scores, mix)) for name, mix in MIXES.items()}
    buckets = [b for b in BUCKETS if b <= batch] + ([batch] if batch not in BUCKETS else []) \
        if device.type == "cuda" else None
    if buckets:
        net.warmup(buckets, tuple(images.shape[1:]))
    timed_n = samples if batch == 1 else batch
    x_batch = images[:batch].to(device)
    xs = [images[i:i + 1].to(device) for i in range(samples)] if batch == 1 else None
    stages = chain_times(net.stage, net.final, net.num_exits, x_batch, repeats if batch == 1 else 5, device,
                         plain=lambda: net.backbone(x_batch))
    backbone_time = timed(lambda: net.backbone(x_batch), repeats if batch == 1 else 5, device)
    rows = []
    for name, policy in policies.items():
        _, ex = simulate(cached.scores(policy.score_kind), cached.head_pred, cached.backbone_pred,
                         policy.thresholds)
        frac = torch.bincount(ex[:timed_n].cpu(), minlength=net.num_exits + 1).double() / timed_n
        extra = {}
        if batch == 1:
            extra = one_by_one(net.backbone, lambda x, p=policy: net.infer(x, p), xs, one_repeats, device)
            plain, skip = extra["plain_time"], extra["skip_time"]
        else:
            plain, skip = timed_pair(lambda: net.backbone(x_batch),
                                     lambda p=policy: net.infer(x_batch, p, buckets), repeats, device)
            ideal = survivor_time(net, x_batch, ex[:batch], lambda: net.backbone(x_batch), repeats, device)
            extra = {"plain_per_s": batch / plain, "skip_per_s": batch / skip, "survivor_pred": plain / ideal}
        stage_pred = backbone_time / float(sum(f * t for f, t in zip(frac.tolist(), stages)))
        rows.append({"device": device.type, "threads": torch.get_num_threads(), "batch": batch, "mix": name,
                     "fractions": frac.tolist(), "flop_pred": 1 / costs.expected(frac), "stage_pred": stage_pred,
                     "measured": plain / skip, **extra})
    return rows


def table(rows: list[dict]) -> list[str]:
    """Speed-ups against both predictions, then latency (batch 1: per-sample p50/p95/p99 in ms, early exit and
    plain) or throughput (images per second), and onnxruntime's real skip against torch's."""
    out = ["| runtime | threads | batch | mix | exit % | FLOP-predicted | stage-time-predicted | measured | "
           "measured / FLOP | measured / stage | measured / stages at survivor batch | early exit p50/p95/p99 ms or "
           "img/s | plain p50/p95/p99 ms or img/s | onnxruntime skip vs torch skip |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sp, m = r["stage_pred"], r["measured"]
        mix = "—" if r["fractions"] is None else "/".join(f"{100 * f:.0f}" for f in r["fractions"])
        stage = "—" if sp is None else f"{sp:.2f}x"
        stage_ratio = "—" if sp is None else f"{m / sp:.2f}"
        if "skip_ms" in r:
            ee, plain = ("/".join(f"{v:.2f}" for v in r[k]) for k in ("skip_ms", "plain_ms"))
        elif "skip_per_s" in r:
            ee, plain = f"{r['skip_per_s']:.0f}/s", f"{r['plain_per_s']:.0f}/s"
        else:
            ee = plain = "—"
        vs = f"{r['vs_torch']:.2f}x" if "vs_torch" in r else "—"
        survivor = f"{m / r['survivor_pred']:.2f}" if "survivor_pred" in r else "—"
        out.append(f"| {r['device']} | {r.get('threads', '—')} | {r['batch']} | {r['mix']} | {mix} | "
                   f"{r['flop_pred']:.2f}x | {stage} | {m:.2f}x | {m / r['flop_pred']:.2f} | {stage_ratio} | "
                   f"{survivor} | {ee} | {plain} | {vs} |")
    return out
