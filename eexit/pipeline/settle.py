"""What an evaluated regime leaves outside ``results.json``, in one place: the check that the deployed real-skip
path exits as the simulation says (its verdict goes into the record), the exit-network checkpoint for deployment,
every exit's validation and test outputs (``exit_outputs/<regime>.pt``: what any later analysis of the exits
needs without running the network again, e.g. ``benchmarks/risk.py``), and the loggers' summary metrics.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from eexit.deploy.checkpoint import save_exit_checkpoint
from eexit.evaluation.curves import simulate
from eexit.exits import CachedExits, ExitPolicy
from eexit.files.atomic import atomic_save
from eexit.methods import Trained

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settling:
    """What settling a regime needs of the run: its image data, device, the real-skip sample count, the run folder,
    the resolved config a checkpoint keeps, the frozen backbone's weights file, the loggers, the phase clock and how
    many test images the operating points' time saving is measured on (``None``: not measured)."""

    dm: object
    device: torch.device
    real_skip_samples: int | None
    run_dir: Path
    config: dict
    backbone_weights: str | None
    loggers: tuple
    phases: Callable
    time_samples: int | None = None


def settle(run: Settling, name: str, trained: Trained, policy: ExitPolicy, point: dict, calibration: list) -> dict:
    """``real_skip_matches`` and ``checkpoint`` for the regime's record; the checkpoint keeps the backbone's weights
    too when the fit trained it (``whole_network``). Logs the operating point's metrics."""
    with run.phases(f"{name}/real_skip"):
        matches = real_skip_matches(run, trained.net, policy, trained.test)
    ckpt = run.run_dir / "checkpoints" / f"{name}.pt"
    with run.phases(f"{name}/checkpoint"):
        save_exit_checkpoint(ckpt, trained.net, policy, run.config, run.backbone_weights, run.dm.image_shape,
                             trained.whole_network, (run.dm.mean, run.dm.std))
    outputs = run.run_dir / "exit_outputs" / f"{name}.pt"
    outputs.parent.mkdir(parents=True, exist_ok=True)
    with run.phases(f"{name}/exit_outputs"):
        atomic_save({split: {"logits": c.logits, "confidences": c.confidences, "labels": c.labels}
                     for split, c in (("val", trained.val), ("test", trained.test))}, outputs)
    for lg in run.loggers:
        lg.log_metrics({f"{name}/test_acc": point["test_acc"], f"{name}/cost_fraction": point["cost_fraction"],
                        f"{name}/agreement": point["agreement"],
                        **{f"{name}/exit{c['exit']}/ece": c["ece"] for c in calibration}})
    return {"real_skip_matches": matches, "checkpoint": str(ckpt)}


@torch.no_grad()
def real_skip_matches(run: Settling, net, policy, test: CachedExits) -> bool:
    """Run the deployed ``infer`` path on test images; every one must leave at the exit, and with the
    prediction, the simulation gives it. ``samples``: how many images, spread evenly over the exits
    the simulation uses (every exit is exercised, and a sweep job does not pay a whole test pass);
    ``None``: all of them."""
    pred, exit_idx = simulate(test.scores(policy.score_kind), test.head_pred, test.backbone_pred, policy.thresholds)
    samples = run.real_skip_samples
    chosen = None if samples is None else spread_over_exits(exit_idx, int(samples))
    got_pred, got_exit = [], []
    for x, _ in run.dm.loader("test", indices=chosen):
        p, e = net.eval().infer(x.to(run.device), policy)
        got_pred.append(p.cpu())
        got_exit.append(e.cpu())
    want_pred, want_exit = (pred, exit_idx) if chosen is None else (pred[chosen], exit_idx[chosen])
    got_pred, got_exit = torch.cat(got_pred), torch.cat(got_exit)
    # the simulation reads float32 validation/test features, as the deployed network computes them: any image
    # that leaves elsewhere or answers otherwise (TF32 or a different kernel on a GPU) is reported, never tolerated
    moved = int((got_exit != want_exit).sum())
    answered = int((got_pred != want_pred)[got_exit == want_exit].sum())
    if moved or answered:
        log.warning("real skip: of %d test images, %d leave at another exit and %d answer otherwise than the "
                    "simulation says", got_exit.numel(), moved, answered)
    return not (moved or answered)


def spread_over_exits(exit_idx: torch.Tensor, samples: int) -> torch.Tensor:
    """Indices of up to ``samples`` samples, as evenly as possible from every exit index present
    (the first ones of each, in order)."""
    groups = [torch.nonzero(exit_idx == e).flatten() for e in torch.unique(exit_idx)]
    take, left = [0] * len(groups), samples
    while left > 0 and any(t < len(g) for t, g in zip(take, groups)):
        for i, g in enumerate(groups):
            if left > 0 and take[i] < len(g):
                take[i] += 1
                left -= 1
    return torch.sort(torch.cat([g[:t] for g, t in zip(groups, take)])).values
