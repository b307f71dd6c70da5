"""Every option of every config group composes."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONF, compose_cfg

GROUPS = ["data", "backbone", "head", "method", "policy", "trainer", "callbacks", "logger", "experiment"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((Path(CONF) / g).glob("*.yaml"))]


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_group_option_composes(group, option):
    cfg = compose_cfg([f"{group}={option}"])
    assert cfg.method.name and cfg.data._target_.startswith("eexit.data.")
    for node in (cfg.data, cfg.backbone, cfg.head, cfg.policy, cfg.trainer):
        assert node._target_.startswith(("eexit.", "lightning."))


def test_default_is_digits_on_cpu_budget():
    cfg = compose_cfg()
    assert cfg.data._target_.endswith("DigitsDataModule") and cfg.backbone.depth == 20


@pytest.mark.parametrize("method,head,policy", [("bts", "Conv1dHead", "ClassPrecisionMargin"),
                                                ("nonboosted", "Conv1dHead", "ClassPrecisionMargin"),
                                                ("pteenet", "ConvXHead", "GlobalThreshold"),
                                                ("eenets", "EENetHead", "GlobalThreshold"),
                                                ("linear", "LinearHead", "GlobalThreshold")])
def test_each_method_brings_its_head_and_policy_and_the_command_line_wins(method, head, policy):
    cfg = compose_cfg([f"method={method}"])
    assert cfg.head._target_.endswith(head) and cfg.policy._target_.endswith(policy)
    assert compose_cfg([f"method={method}", "head=linear"]).head._target_.endswith("LinearHead")
