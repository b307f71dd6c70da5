"""The plan against the run, phase by phase: the run's finer phases summed into the plan's, by hand."""
from __future__ import annotations

from eexit.pipeline.plan_check import plan_check, plan_check_text


def test_measured_phases_are_summed_into_the_plans():
    planned = {"backbone": 100.0, "features": 10.0, "heads": 40.0, "joint": 0.0, "evaluation": 5.0}
    seconds = {"plan": 2.0, "setup": 0.5, "backbone": 90.0, "features": 12.0, "boosted/build": 0.5,
               "boosted/train": 30.0, "boosted/predict": 1.5, "boosted/calibrate+curve": 1.0,
               "boosted/real_skip": 0.2, "boosted/time_saving": 3.0, "nonboosted/train": 20.0, "plot": 1.0}
    check = plan_check(planned, seconds, 170.0)
    assert check["measured"] == {"backbone": 90.0, "features": 12.0, "heads": 52.0, "joint": 0.0, "evaluation": 4.2}
    assert check["planned_total"] == 155.0 and check["measured_total"] == 170.0
    assert plan_check_text(check) == ("planned 155 s, took 170 s (backbone 100 / 90 s, features 10 / 12 s, heads 40 / "
                                      "52 s, evaluation 5 / 4 s; planned / measured)")
    # a jointly trained network: its training is the plan's joint phase
    joint = plan_check({"backbone": 0.0, "features": 0.0, "heads": 0.0, "joint": 60.0, "evaluation": 5.0},
                       {"eenets/train": 55.0, "eenets/analysis": 1.0}, 60.0)
    assert joint["measured"]["joint"] == 55.0 and joint["measured"]["heads"] == 0.0
