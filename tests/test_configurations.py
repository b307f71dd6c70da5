"""A configuration is what a job's composed settings say, never its command line: jobs on other data never merge,
labels name the settings that differ, and a sweep resumed after a default changed refuses in one line."""
from __future__ import annotations

import json

import pytest
from conftest import compose_cfg

from eexit.cli.jobs import completed_results
from eexit.config.identity import configuration_id, differing, settings_of
from eexit.errors import EExitError
from eexit.reporting.configurations import configuration_rows


def test_settings_ignore_the_seed_and_presentation_but_nothing_else():
    base = settings_of(compose_cfg(["seed=0"]))
    assert configuration_id(base) == configuration_id(settings_of(compose_cfg(["seed=7", "logger=csv", "plot=false"])))
    assert base["data.seed"] == "0"   # ${seed} resolves alike in every seed
    assert differing(base, settings_of(compose_cfg(["data=digits"]))) == ["data._target_", "data.copies", "data.skew"]
    assert differing(base, settings_of(compose_cfg(["trainer.deterministic=true"]))) == ["trainer.deterministic"]


def job(name: str, seed: int, overrides: list[str], settings: dict, saving: float) -> dict:
    point = {"cost_reduction": saving}
    return {"_job": name, "seed": seed, "overrides": overrides, "backbone_test_acc": 0.9,
            "configuration": configuration_id(settings), "settings": settings,
            "headlines": {"a": {"drop_1pt": point, "drop_2pt": point, "drop_5pt": point}}, "regimes": {"a": {}}}


def test_jobs_with_the_same_command_line_on_other_data_never_merge():
    digits, cifar = {"data._target_": '"Digits"', "head.width": "16"}, {"data._target_": '"Cifar"', "head.width": "16"}
    runs = [job("0", 0, ["method=bts", "seed=0"], digits, 0.5), job("1", 1, ["method=bts", "seed=1"], cifar, 0.1),
            job("2", 1, ["method=bts", "seed=1"], digits, 0.6)]
    rows = configuration_rows(runs)
    assert [(r["config"], r["seeds"]) for r in rows] == [("data._target_=Digits", 2), ("data._target_=Cifar", 1)]
    assert rows[0]["a_drop_1pt"] == pytest.approx(0.55)


def test_a_sweep_resumed_after_a_default_changed_refuses(tmp_path):
    then = settings_of(compose_cfg(["seed=0"]))
    results = {"dataset": "d", "backbone": "b", "method": "bts", "seed": 0, "backbone_test_acc": 0.9,
               "overrides": ["seed=0"], "settings": then, "wall_seconds": 1.0, "format": "eexit-results/3"}
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert completed_results(tmp_path, ["seed=0"], then) is not None
    now = settings_of(compose_cfg(["seed=0", "method.epochs=3"]))
    with pytest.raises(EExitError, match=r"other settings than this command composes now \(method.boosted.epochs_per_stage, method.epochs\)"):
        completed_results(tmp_path, ["seed=0"], now)
