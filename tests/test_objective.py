"""What run.py returns to a sweeper, by hand on a made-up results.json."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from eexit.errors import EExitError
from eexit.cli.objective import objective_value

RESULTS = {
    "curve": [{"cost_fraction": 0.3, "test_acc": 0.80}, {"cost_fraction": 0.5, "test_acc": 0.90},
              {"cost_fraction": 1.0, "test_acc": 0.95}],
    "val_curve": [{"cost_fraction": 0.3, "val_acc": 0.85}, {"cost_fraction": 0.5, "val_acc": 0.88},
                  {"cost_fraction": 1.0, "val_acc": 0.93}],
    "headline": {"drop_1pt": None, "drop_2pt": {"cost_reduction": 0.5, "val_cost_reduction": 0.4},   # chosen on val
                 "drop_5pt": {"cost_reduction": 0.5, "val_cost_reduction": 0.7}},
}


@pytest.mark.parametrize("objective,value", [
    ({}, 0.4),                                                       # default: saving at <= 2 points, validation
    ({"split": "test"}, 0.5),
    ({"drop": 5}, 0.7),
    ({"drop": 1}, 0.0),                                              # nothing within 1 point: no saving
    ({"metric": "accuracy", "budget": 0.5}, 0.88),
    ({"metric": "accuracy", "budget": 0.5, "split": "test"}, 0.90),
    ({"metric": "accuracy", "budget": 0.2}, 0.0),                    # no point that cheap
])
def test_objective_by_hand(objective, value):
    assert objective_value(RESULTS, OmegaConf.create(objective)) == pytest.approx(value)


def test_objective_of_a_run_without_exits_and_a_bad_metric():
    assert objective_value({"backbone_test_acc": 0.9}, OmegaConf.create({})) == 0.0
    with pytest.raises(EExitError, match="objective.metric=speed"):
        objective_value(RESULTS, OmegaConf.create({"metric": "speed"}))
