"""The probability-margin exit score, added as one class and one yaml: its values by hand, the real skip equal to the
simulation with it, and the command line's check knowing it without torch."""
from __future__ import annotations

import math

import pytest
import torch
from conftest import compose_cfg, off_scores

from eexit.config.scores import declared_scores
from eexit.errors import EExitError
from eexit.evaluation import simulate
from eexit.exits import ExitPolicy, GlobalThreshold, score
from eexit.pipeline import run_experiment


def test_the_margin_is_the_top_probability_minus_the_second():
    logits = torch.tensor([[math.log(0.6), math.log(0.3), math.log(0.1)],   # 0.6 - 0.3
                           [0.0, 0.0, -50.0],                                # a tie between the top two
                           [40.0, 0.0, 0.0]])                                # one-hot
    assert score("prob_margin", logits, None).tolist() == pytest.approx([0.3, 0.0, 1.0], abs=1e-6)
    assert declared_scores()["prob_margin"] == {"threshold_range": (0.0, 1.0), "whole_thresholds": False,
                                                "needs_confidence": False}


def test_real_skip_with_the_margin_equals_the_simulation():
    from test_exits import collect, make_net
    net = make_net("linear", {})
    x = torch.randn(9, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    cached = collect(net, [(x, torch.zeros(9, dtype=torch.long))])
    scores = cached.scores("prob_margin")
    thr = off_scores(scores.median(dim=1, keepdim=True).values.expand(3, 10), scores)
    sim_pred, sim_exit = simulate(scores, cached.head_pred, cached.backbone_pred, thr)
    pred, exit_idx = net.infer(x, ExitPolicy("prob_margin", thr))
    assert torch.equal(exit_idx, sim_exit) and torch.equal(pred, sim_pred)
    assert [net.infer_one(x[i:i + 1], ExitPolicy("prob_margin", thr)) for i in range(9)] == \
        list(zip(sim_pred.tolist(), sim_exit.tolist()))
    assert GlobalThreshold("prob_margin", 0.5).settings(cached)[0] == 0.0


def test_its_calibrator_composes_and_its_thresholds_are_checked(tmp_path):
    cfg = compose_cfg(["calibrator=prob_margin", "calibrator.threshold=1.5"], tmp_path)
    with pytest.raises(EExitError, match=r"calibrator.threshold=1.5 is not allowed: give a number in \[0, 1\] "
                                         r"\(score prob_margin\)"):
        run_experiment(cfg, tmp_path / "run")
