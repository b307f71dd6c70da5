"""BTS-EE's survivor rules, each on a constructed pool whose answer is computed by hand."""
import math

import pytest
import torch

from eexit.data.loader import IndexedLoader
from eexit.errors import EExitError
from eexit.exits.rule import passes
from eexit.training.cross_fit import fold_split
from eexit.training.survivors import (
    check_rule,
    keep_probability,
    rate_matched,
    soft_temperature,
)

# head k on 8 training samples: scores, predicted class; thresholds per class
SCORES = torch.tensor([0.99, 0.95, 0.90, 0.60, 0.97, 0.80, 0.70, 0.50])
PRED = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
THRESHOLDS = torch.tensor([0.92, 0.75])


def test_in_sample_is_the_exit_rule_on_training_scores():
    assert passes(SCORES, PRED, THRESHOLDS).tolist() == [True, True, False, False, True, True, False, False]


def test_rate_matched_removes_exactly_the_validation_share_per_class():
    # validation pool: class 0 predicted 4 times (1 leaves: 25 %), class 1 predicted 2 times (1 leaves: 50 %);
    # one class-0 sample is no longer in the pool (an earlier head took it) and must not count
    val_pred = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    alive_val = torch.tensor([True, True, True, True, False, True, True])
    leave_val = torch.tensor([True, False, False, False, True, True, False])
    alive = torch.tensor([True, True, True, True, True, True, True, False])   # sample 7 left before
    leave = rate_matched(SCORES, PRED, alive, val_pred, alive_val, leave_val, 2, per_class=True)
    # class 0: round(0.25 x 4) = 1 -> the most confident (0.99, sample 0); class 1: round(0.5 x 3) = 2
    # of samples 4, 5, 6 -> 0.97 and 0.80 (samples 4, 5)
    assert leave.nonzero().flatten().tolist() == [0, 4, 5]
    assert not (leave & ~alive).any()


def test_rate_matched_with_one_threshold_matches_the_overall_share():
    val_pred = torch.tensor([0, 0, 1, 1])
    leave_val = torch.tensor([True, False, False, False])   # 25 % leave overall
    alive = torch.ones(8, dtype=torch.bool)
    leave = rate_matched(SCORES, PRED, alive, val_pred, torch.ones(4, dtype=torch.bool), leave_val, 2, per_class=False)
    assert leave.nonzero().flatten().tolist() == [0, 4]   # round(0.25 x 8) = 2 most confident: 0.99, 0.97


def test_rate_matched_leaves_a_class_validation_never_predicts():
    leave = rate_matched(SCORES, PRED, torch.ones(8, dtype=torch.bool), torch.tensor([0, 0]),
                         torch.ones(2, dtype=torch.bool), torch.tensor([True, True]), 2, per_class=True)
    assert leave.nonzero().flatten().tolist() == [0, 1, 2, 3]   # class 0 all (100 %), class 1 none


def test_soft_keep_probability_by_hand_and_its_hard_limit():
    p = keep_probability(SCORES, PRED, THRESHOLDS, temperature=0.1)
    expected = [1 / (1 + math.exp(-(THRESHOLDS[c] - s) / 0.1)) for s, c in zip(SCORES.tolist(), PRED.tolist())]
    assert p.tolist() == pytest.approx(expected, rel=1e-5)
    hard = keep_probability(SCORES, PRED, THRESHOLDS, temperature=1e-6)
    assert torch.equal(hard.round().bool(), ~passes(SCORES, PRED, THRESHOLDS))
    never = keep_probability(SCORES, PRED, torch.tensor([math.inf, -math.inf]), temperature=0.1)
    assert never.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]


def test_soft_temperature_is_a_share_of_the_score_spread():
    scores = torch.tensor([0.2, 0.4, 0.6, 0.8, math.inf])
    assert soft_temperature(scores, 0.5) == pytest.approx(0.5 * float(torch.tensor([0.2, 0.4, 0.6, 0.8]).std()))


def test_weighted_loader_draws_in_proportion_to_weights():
    idx = torch.arange(4)
    loader = IndexedLoader(lambda b: b, idx, batch_size=1000, shuffle=True, seed=0,
                           weights=torch.tensor([0.0, 1.0, 1.0, 2.0]))
    drawn = []
    for epoch in range(250):
        loader.set_epoch(epoch)
        drawn += [int(i) for b in loader for i in b]
    counts = torch.bincount(torch.tensor(drawn), minlength=4).float() / len(drawn)
    assert counts[0] == 0 and counts.tolist()[1:] == pytest.approx([0.25, 0.25, 0.5], abs=0.03)


def test_folds_partition_the_pool():
    pool = torch.tensor([3, 5, 8, 9, 12, 20, 21])
    parts = fold_split(pool, 3, seed=1)
    assert sorted(torch.cat(parts).tolist()) == pool.tolist() and [len(p) for p in parts] == [3, 2, 2]


def test_unknown_rule_is_refused():
    with pytest.raises(EExitError, match="survivors='out_of_bag' is not allowed: give one of in_sample, rate_matched, cross_fit, soft"):
        check_rule("out_of_bag")
