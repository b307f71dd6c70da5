"""Every option of every config group composes."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONF, compose_cfg

GROUPS = ["data", "backbone", "head", "method", "policy", "trainer", "logger", "experiment", "regime"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((Path(CONF) / g).glob("*.yaml"))]


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_group_option_composes(group, option):
    cfg = compose_cfg([f"{group}={option}"])
    assert cfg.method.name and cfg.data._target_.startswith("eexit.data.")
    if group == "backbone":
        assert cfg.backbone.name == option


def test_default_is_digits_on_cpu_budget():
    cfg = compose_cfg()
    assert cfg.data._target_.endswith("DigitsDataModule") and cfg.backbone.name == "resnet20"
