"""Evidence a reviewer accepts: selection on validation, intervals over seeds, verdicts, the
field's cost table, guards, ECE by its definition — each against hand-computed values."""
from __future__ import annotations

import json
import math

import pytest
import torch

from eexit.evaluation.curves import headline, validated_headline
from eexit.evaluation.analysis import cost_table, expected_calibration_error, reliability
from eexit.reporting.aggregate import aggregate
from eexit.reporting.guards import guards
from eexit.reporting.plots import same_as
from eexit.reporting.stats import accuracy_interval, mean_interval, paired_verdict


def test_mean_interval_by_hand():
    s = mean_interval([1.0, 2.0, 3.0])                      # mean 2, sd 1, t(0.975, 2) = 4.302653
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0)
    assert s["low"] == pytest.approx(2 - 4.302653 / math.sqrt(3), abs=1e-6)
    assert s["high"] == pytest.approx(2 + 4.302653 / math.sqrt(3), abs=1e-6)
    assert mean_interval([0.4])["low"] is None and mean_interval([])["mean"] is None


def test_paired_verdicts():
    assert paired_verdict({0: 0.5, 1: 0.6, 2: 0.7}, {0: 0.4, 1: 0.52, 2: 0.58})["verdict"] == "better"
    assert paired_verdict({0: 0.4, 1: 0.52, 2: 0.58}, {0: 0.5, 1: 0.6, 2: 0.7})["verdict"] == "worse"
    noise = paired_verdict({0: 0.50, 1: 0.61, 2: 0.55}, {0: 0.53, 1: 0.57, 2: 0.56})
    assert noise["verdict"] == "indistinguishable" and noise["low"] < 0 < noise["high"]
    assert paired_verdict({0: 0.5}, {0: 0.1})["verdict"] == "single seed"       # never a win without an interval
    same = paired_verdict({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5})
    assert same["verdict"] == "indistinguishable" and same["mean"] == 0.0
    assert paired_verdict({0: 0.5, 1: 0.6, 3: 0.9}, {0: 0.4, 1: 0.5, 2: 0.0})["seeds"] == [0, 1]   # paired by seed


def test_wilson_interval_by_hand():
    low, high = accuracy_interval(0.5, 100)      # centre 0.5, half 1.96*sqrt(.25/100+.96/40000)/(1.0384)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert accuracy_interval(1.0, 360)[1] == pytest.approx(1.0) and accuracy_interval(1.0, 360)[0] == pytest.approx(0.98944, abs=1e-4)


VAL = [{"setting": s, "val_acc": a, "cost_fraction": c, "agreement": 1.0}
       for s, a, c in ((0.1, 0.90, 0.3), (0.2, 0.95, 0.5), (0.3, 0.97, 0.7), (0.4, 0.98, 1.0))]
TEST = [{"setting": s, "test_acc": a, "cost_fraction": c, "agreement": 0.9, "exit_fractions": [c, 1 - c]}
        for s, a, c in ((0.1, 0.96, 0.32), (0.2, 0.965, 0.52), (0.3, 0.97, 0.69), (0.4, 0.975, 1.0))]


def test_headline_is_chosen_on_validation_and_reported_on_test():
    h = validated_headline(VAL, TEST, backbone_val_acc=0.98)
    assert h["drop_1pt"]["setting"] == 0.3 and h["drop_1pt"]["test_acc"] == 0.97     # val 0.97 >= 0.97
    assert h["drop_1pt"]["cost_reduction"] == pytest.approx(0.31) and h["drop_1pt"]["val_cost_reduction"] == \
        pytest.approx(0.3)
    assert h["drop_5pt"]["setting"] == 0.2                                            # val 0.95 >= 0.93
    oracle = headline(TEST, backbone_acc=0.975)                                       # on test: 0.96 is in 2 pt
    assert oracle["drop_2pt"]["setting"] == 0.1 and h["drop_2pt"]["setting"] == 0.3
    assert validated_headline(VAL, TEST, backbone_val_acc=1.2)["drop_5pt"] is None


def test_the_headline_says_what_it_kept_on_test():
    h = validated_headline(VAL, TEST, backbone_val_acc=0.98, backbone_test_acc=0.985)
    assert h["drop_1pt"]["test_drop_pt"] == pytest.approx(1.5) and h["drop_1pt"]["met_on_test"] is False
    assert h["drop_5pt"]["test_drop_pt"] == pytest.approx(2.0) and h["drop_5pt"]["met_on_test"] is True
    from eexit.reporting.summary import headline_text
    assert "lost 1.50 pt on test" in headline_text(h) and headline_text(h).count("lost") == 1


def test_the_never_exit_point_is_not_a_saving_and_none_is_never_zero():
    """Only the never-exit point (cost 1.05: the backbone plus its heads) reaches the accuracy: that is "none",
    not a negative saving; aggregated, a seed where none qualifies is counted, not averaged in as 0."""
    val = [{"setting": 0.5, "val_acc": 0.90, "cost_fraction": 0.5, "agreement": 1.0},
           {"setting": 1.0, "val_acc": 0.99, "cost_fraction": 1.05, "agreement": 1.0}]
    test = [{**v, "test_acc": v.pop("val_acc")} for v in [dict(p) for p in val]]
    assert validated_headline(val, test, backbone_val_acc=0.99)["drop_1pt"] is None
    assert headline(test, backbone_acc=0.99)["drop_1pt"] is None
    from eexit.reporting.configurations import configuration_row
    runs = [{"_job": str(k), "seed": k, "backbone_test_acc": 0.9, "overrides": [],
             "headlines": {"a": {"drop_1pt": point, "drop_2pt": point, "drop_5pt": point}},
             "regimes": {"a": {}}} for k, point in enumerate([None, {"cost_reduction": 0.3}, {"cost_reduction": 0.5}])]
    row = configuration_row(runs, set())
    assert row["a_drop_1pt"] == pytest.approx(0.4) and row["a_drop_1pt_qualifies"] == "2 of 3"
    from eexit.reporting.summary_markdown import with_interval
    assert with_interval(row, "a_drop_1pt").endswith("(in 2 of 3 seeds)")


@pytest.mark.parametrize("conservative_last,chosen", [(True, 0.8), (False, 0.6)])
def test_ties_on_validation_go_to_the_most_conservative_setting(conservative_last, chosen):
    """Three thresholds that validation cannot tell apart (same cost, same accuracy): the one that lets the fewest
    samples exit wins, whichever way the calibrator's settings run."""
    val = [{"setting": s, "val_acc": 0.95, "cost_fraction": 0.6, "agreement": 1.0} for s in (0.6, 0.7, 0.8)]
    test = [{"setting": s, "test_acc": a, "cost_fraction": 0.6, "agreement": 1.0}
            for s, a in ((0.6, 0.80), (0.7, 0.90), (0.8, 1.00))]
    h = validated_headline(val, test, backbone_val_acc=0.96, conservative_last=conservative_last)
    assert h["drop_2pt"]["setting"] == chosen


def test_cost_table_selects_on_validation_within_each_budget():
    val = [{**p, "test_acc": p["val_acc"]} for p in VAL]          # the validation curve as ``curve`` writes it
    rows = cost_table(val, TEST, budgets=(0.25, 0.5, 0.75, 1.0))
    assert [r["setting"] for r in rows] == [None, 0.2, 0.3, 0.4]
    assert [r["test_acc"] for r in rows] == [None, 0.965, 0.97, 0.975]
    assert rows[1]["val_acc"] == 0.95 and rows[1]["test_cost_fraction"] == 0.52
    assert [r.get("over_budget_on_test") for r in rows] == [None, True, False, False]   # 0.52 on test > 0.5
    from eexit.evaluation.analysis import cost_table_on_test
    ztw = cost_table_on_test(TEST, budgets=(0.25, 0.5, 0.75, 1.0))   # selected on the test curve it reports
    assert [r["setting"] for r in ztw] == [None, 0.1, 0.3, 0.4] and {r["protocol"] for r in ztw} == {"ztw"}


def test_ece_by_the_15_bin_definition_with_confidences_of_0_and_1():
    probs = torch.tensor([[1.0, 0.0]] * 5 + [[0.95, 0.05]] * 5 + [[0.0, 0.0]] * 2)
    labels = torch.tensor([0, 0, 0, 0, 1] + [0] * 5 + [1, 0])
    rows = reliability(probs, labels)
    assert [(r["count"], round(r["low"], 4)) for r in rows] == [(2, 0.0), (10, 0.9333)]   # 0 -> first, 1 -> last
    # by hand: first bin conf 0, acc 0.5 -> 2/12 * 0.5; last bin conf 0.975, acc 0.9 -> 10/12 * 0.075
    assert expected_calibration_error(rows) == pytest.approx(2 / 12 * 0.5 + 10 / 12 * 0.075)


def test_guards_fire_on_what_they_name():
    regime = {"test_samples": 40, "chance_acc": 0.5, "exit_test_acc": [0.6, 0.3, 0.55],
              "untrained_heads": [1]}
    g = guards({"backbone_test_acc": 0.55, "regimes": {"boosted": regime}})
    assert g["backbone_near_chance"] and g["small_split"] and g["accuracy_step"] == 1 / 40
    assert g["exits_beat_backbone"] == {"boosted": [0]} and g["untrained_heads"] == {"boosted": [1]}
    fine = guards({"backbone_test_acc": 0.9, "regimes": {"b": {**regime, "test_samples": 600}}})
    assert not fine["backbone_near_chance"] and not fine["small_split"]


def test_summary_of_a_backbone_at_chance_reports_no_savings(capsys, tmp_path):
    from eexit.reporting.summary import print_summary
    point = {"setting": 0.02, "test_acc": 0.52, "cost_fraction": 0.4}
    regime = {"operating_point": point, "headline": {"drop_2pt": {"cost_reduction": 0.6, "test_acc": 0.5}},
              "exit_val_acc": [0.5, 0.5], "test_samples": 24, "chance_acc": 0.5, "exit_test_acc": [0.5, 0.5]}
    results = {"dataset": "imagefolder", "backbone": "resnet20", "backbone_test_acc": 0.5, "backbone_macs": 41e6,
               "regimes": {"boosted": regime}}
    results["guards"] = guards(results)
    print_summary(results, tmp_path)
    out = capsys.readouterr().out
    assert "less compute" not in out and "within 5 points of chance (50.00%" in out
    assert "backbone test accuracy 50.00% (95% CI 31.4–68.6)" in out and "24 samples" in out


def test_identical_fronts_are_named():
    a = [{"cost_fraction": 0.4, "test_acc": 0.9}, {"cost_fraction": 1.0, "test_acc": 0.95}]
    assert same_as([dict(p) for p in a], {"boosted": a}) == "boosted"
    assert same_as([{"cost_fraction": 0.4, "test_acc": 0.91}], {"boosted": a}) is None


def fake_job(folder, config: list[str], seed: int, boosted: float, nonboosted: float, backbone: float = 0.98):
    """A finished BTS-EE job: both regimes' compute saved within 2 points, as a sweep writes it."""
    def regime(saved):
        point = {"setting": 0.05, "test_acc": 0.97, "agreement": 0.98, "cost_fraction": 1 - saved,
                 "exit_fractions": [0.5, 0.5]}
        head = {d: {"cost_reduction": saved, "test_acc": 0.97, "val_acc": 0.97, "val_cost_reduction": saved,
                    "setting": 0.05, "agreement": 1} for d in ("drop_1pt", "drop_2pt", "drop_5pt")}
        return {"head": "conv1d", "curve": [point], "operating_point": point, "headline": head,
                "cost_table": [{"budget": b, "test_acc": 0.9 + b / 20} for b in (0.25, 0.5, 0.75, 1.0)],
                "exit_test_acc": [0.9, backbone], "test_samples": 1000, "chance_acc": 0.1}
    regimes = {"boosted": regime(boosted), "nonboosted": regime(nonboosted)}
    results = {"dataset": "digits", "backbone": "resnet20", "overrides": config + [f"seed={seed}"], "seed": seed,
               "method": "bts", "backbone_test_acc": backbone,
               "regimes": regimes, "headlines": {k: r["headline"] for k, r in regimes.items()},
               "comparison": {"pair": ["boosted", "nonboosted"]}}
    results["guards"] = guards(results)
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))


def test_constructed_sweep_gets_better_indistinguishable_and_chance(tmp_path):
    noise = [(0.50, 0.53), (0.61, 0.57), (0.55, 0.56)]
    job = 0
    for seed in range(3):
        fake_job(tmp_path / str(job), ["head.width=16"], seed, 0.40 + 0.01 * seed + 0.10, 0.40 + 0.01 * seed)
        fake_job(tmp_path / str(job + 1), ["head.width=32"], seed, *noise[seed])
        fake_job(tmp_path / str(job + 2), ["head.width=64"], seed, 0.6, 0.1, backbone=0.12)   # at chance
        job += 3
    s = aggregate(tmp_path)
    assert s["configurations"] == 3 and s["jobs"] == 9
    assert (s["better"], s["worse"], s["indistinguishable"], s["single_seed"]) == (1, 0, 1, 0)
    rows = {r["config"]: r for r in json.loads((tmp_path / "summary.json").read_text())["rows"]}
    better, noisy, chance = rows["head.width=16"], rows["head.width=32"], rows["head.width=64"]
    assert better["verdict_drop_2pt"] == "better" and better["diff_drop_2pt"] == pytest.approx(0.10)
    assert better["boosted_drop_2pt"] == pytest.approx(0.51) and better["seeds"] == 3
    assert noisy["verdict_drop_2pt"] == "indistinguishable" and noisy["diff_drop_2pt_low"] < 0
    assert chance["backbone_near_chance"] and chance["boosted_drop_2pt"] is None and "verdict_drop_2pt" not in chance
    assert better["boosted_acc_at_50"] == pytest.approx(0.925) and better["boosted_acc_at_50_std"] == pytest.approx(0, abs=1e-12)
    md = (tmp_path / "summary.md").read_text()
    assert "better in 1, worse in 0, indistinguishable in 1 of 2 configurations" in md
    assert "| head.width=16 | 3 |" in md and "51.0% [" in md and "within 5 points of chance" in md
    assert (tmp_path / "wins.png").stat().st_size > 1000 and (tmp_path / "fronts.png").stat().st_size > 1000


def test_a_rerun_with_fewer_values_summarises_exactly_the_current_grid(tmp_path):
    """A sweep first run with seed=0,1,2 and rerun into its folder with seed=0,1: job 2 is left out."""
    from omegaconf import OmegaConf
    for seed in range(3):
        fake_job(tmp_path / str(seed), ["head.width=16"], seed, 0.5, 0.4)
    (tmp_path / "2" / "FAILED").write_text("an old failure\n")
    OmegaConf.save(OmegaConf.create({"hydra": {
        "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", "params": None},
        "overrides": {"task": ["head.width=16", "seed=0,1"]}}}), tmp_path / "multirun.yaml")
    s = aggregate(tmp_path)
    assert s["jobs"] == 2 and s["stale_jobs"] == ["2"] and s["failed_jobs"] == [] and s["missing_jobs"] == []
    rows = json.loads((tmp_path / "summary.json").read_text())["rows"]
    assert rows[0]["seeds"] == 2


def test_two_level_interval_against_each_levels_known_variance():
    import numpy as np

    from eexit.reporting.stats import two_level_interval
    rng = np.random.default_rng(3)
    one = rng.permutation(np.r_[np.ones(300), np.zeros(900)])          # one seed, p = 0.25 on 1,200 images
    low, high = two_level_interval([one], draws=2000)
    assert (high - low) / 2 == pytest.approx(1.96 * math.sqrt(0.25 * 0.75 / 1200), rel=0.1)   # the binomial width
    assert two_level_interval([one, one], draws=2000) == pytest.approx((low, high), abs=0.01)   # same images: no
    seeds = [np.full(50, v) for v in [0.0] * 5 + [1.0] * 5]                # shrinkage; no test noise: Binomial(10,
    assert two_level_interval(seeds, draws=4000) == pytest.approx((0.2, 0.8))   # 1/2)/10 has 2.5 % / 97.5 % at .2/.8


def test_a_paired_difference_with_zero_spread_over_seeds_still_has_the_test_sets_width():
    """The issue's case: both seeds 5 points apart exactly. The t-interval is [0.05, 0.05], a "better" from two
    seeds; resampling the test images (both regimes on the same ones) gives it its real width."""
    import numpy as np

    from eexit.reporting.configurations import configuration_rows
    from eexit.reporting.samples import encode_exits
    rng = np.random.default_rng(0)
    runs = []
    for seed, (first_a, first_b) in enumerate(((120, 100), (90, 70))):   # savings .36-.30 and .27-.21: .06 each
        exits = {r: rng.permutation(np.r_[np.zeros(k, int), np.ones(200 - k, int)]) for r, k in (("a", first_a),
                                                                                                  ("b", first_b))}
        point = {r: {"cost_reduction": 0.6 * k / 200, "sample_exits": encode_exits(exits[r].tolist()),
                     "exit_costs": [0.4, 1.0]} for r, k in (("a", first_a), ("b", first_b))}
        runs.append({"_job": str(seed), "seed": seed, "backbone_test_acc": 0.9, "overrides": [],
                     "headlines": {r: {d: point[r] for d in ("drop_1pt", "drop_2pt", "drop_5pt")} for r in "ab"},
                     "regimes": {"a": {}, "b": {}}, "comparison": {"pair": ["a", "b"]}})
    row = configuration_rows(runs)[0]
    assert (row["diff_drop_2pt_t_low"], row["diff_drop_2pt_t_high"]) == pytest.approx((0.06, 0.06))
    assert row["diff_drop_2pt_high"] - row["diff_drop_2pt_low"] > 0.05   # test-level width, whatever the seeds say
    same = [{**r, "headlines": {"a": r["headlines"]["a"], "b": r["headlines"]["a"]}} for r in runs]
    row = configuration_rows(same)[0]   # identical on every image: the paired difference is exactly 0, no width
    assert (row["diff_drop_2pt_low"], row["diff_drop_2pt_high"]) == (0.0, 0.0) and row["verdict_drop_2pt"] == \
        "indistinguishable"


def test_holm_by_hand_and_a_family_of_comparisons_counted_honestly():
    from eexit.reporting.configurations import comparison_family
    from eexit.reporting.stats import holm
    assert holm([0.01, 0.04, 0.03, 0.005]) == [True, False, False, True]   # .005<.0125, .01<.0167, .03>.025: stop
    rows = [{"pair": "a − b", "seeds": 3, "b_drop_2pt": 0.4, "verdict_drop_2pt": v, "p_drop_2pt": p,
             "verdict_drop_2pt_holm": h} for v, p, h in (("better", 0.001, "better"), ("better", 0.03, "indistinguishable"),
                                                        ("worse", 0.04, "indistinguishable"))]
    runs = [{"dataset": "d", "backbone": "r", "seed": s, "backbone_test_acc": 0.9} for s in (0, 1, 2)] * 3
    f = comparison_family(rows, runs)
    assert (f["comparisons"], f["distinct_baselines"], f["backbones"]) == (3, 1, 3)
    assert (f["raw"]["better"], f["raw"]["worse"], f["holm"]["better"], f["holm"]["worse"]) == (2, 1, 1, 0)


def test_limits_kept_on_test_are_counted_with_their_excess():
    from eexit.reporting.configurations import constraint_check
    head = {"drop_1pt": {"met_on_test": False, "test_drop_pt": 1.57}, "drop_2pt": {"met_on_test": True,
                                                                                  "test_drop_pt": 1.2}, "drop_5pt": None}
    other = {"drop_1pt": {"met_on_test": False, "test_drop_pt": 1.13}, "drop_2pt": None, "drop_5pt": None}
    c = constraint_check([{"headlines": {"boosted": head, "nonboosted": other}}])
    assert c["drop_1pt"]["violated"] == 2 and c["drop_1pt"]["worst_excess_pt"] == pytest.approx(0.57)
    assert c["drop_1pt"]["mean_excess_pt"] == pytest.approx(0.35) and c["drop_2pt"] == {
        "headlines": 1, "violated": 0, "mean_excess_pt": None, "worst_excess_pt": None}


def test_the_front_drawn_is_chosen_on_validation_and_the_oracle_is_the_test_envelope():
    """Setting 0.2 looks dominated on validation (costlier than 0.1 for no gain) but is best on test: the
    validation-chosen front leaves it out, the oracle envelope takes it."""
    from eexit.evaluation.curves import pareto_front, validated_front
    val = [{"setting": s, "val_acc": a, "cost_fraction": c} for s, a, c in ((0.1, 0.95, 0.5), (0.2, 0.95, 0.6),
                                                                         (0.3, 0.98, 1.0))]
    test = [{"setting": s, "test_acc": a, "cost_fraction": c} for s, a, c in ((0.1, 0.90, 0.5), (0.2, 0.97, 0.6),
                                                                           (0.3, 0.98, 1.0))]
    assert [p["setting"] for p in validated_front(val, test)] == [0.1, 0.3]
    assert [p["setting"] for p in pareto_front(test)] == [0.1, 0.2, 0.3]


def test_a_deployed_path_that_differs_is_said_on_the_console(capsys, tmp_path):
    from eexit.reporting.guards import warnings_text
    from eexit.reporting.summary import print_summary
    regime = {"headline": {"drop_1pt": None}, "operating_point": {"setting": 0.02, "test_acc": 0.9,
              "cost_fraction": 0.5}, "exit_val_acc": [0.8, 0.9], "real_skip_matches": False}
    results = {"dataset": "d", "backbone": "b", "backbone_test_acc": 0.91, "backbone_macs": 1e6, "regimes": {"a": regime}}
    assert any("a: the deployed network" in line for line in warnings_text(results))
    print_summary(results, tmp_path)
    out = capsys.readouterr().out
    assert "[deployed ≠ reported: see note]" in out and "note: a: the deployed network" in out
