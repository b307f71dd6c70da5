"""Every option of every config group composes."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONF, compose_cfg

GROUPS = ["data", "backbone", "head", "method", "calibrator", "trainer", "callbacks", "logger", "experiment"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((Path(CONF) / g).glob("*.yaml"))]


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_group_option_composes(group, option):
    cfg = compose_cfg([f"{group}={option}"])
    assert cfg.method.name and cfg.data._target_.startswith("eexit.data.")
    for node in (cfg.data, cfg.backbone, cfg.head, cfg.method, cfg.calibrator, cfg.trainer):
        assert node._target_.startswith(("eexit.", "lightning."))


@pytest.mark.parametrize("option", sorted(p.stem for p in (Path(CONF) / "method").glob("*.yaml")))
def test_each_method_yaml_builds_its_recipe(option):
    """``method=<name>`` instantiates a recipe (one class per method) without any data or training."""
    from hydra.utils import instantiate

    from eexit.methods import Recipe
    cfg = compose_cfg([f"method={option}"])
    recipe = instantiate(cfg.method)
    assert isinstance(recipe, Recipe) and recipe.name == cfg.method.name


def test_default_is_distorted_digits_on_cpu_budget():
    cfg = compose_cfg()
    assert cfg.data._target_.endswith("DistortedDigitsDataModule") and cfg.backbone.depth == 20


@pytest.mark.parametrize("method,head,policy", [("bts", "Conv1dHead", "ClassPrecisionMargin"),
                                                ("nonboosted", "Conv1dHead", "ClassPrecisionMargin"),
                                                ("pteenet", "ConvXHead", "GlobalThreshold"),
                                                ("eenets", "EENetHead", "GlobalThreshold"),
                                                ("linear", "LinearHead", "GlobalThreshold")])
def test_each_method_brings_its_head_and_policy_and_the_command_line_wins(method, head, policy):
    cfg = compose_cfg([f"method={method}"])
    assert cfg.head._target_.endswith(head) and cfg.calibrator._target_.endswith(policy)
    assert compose_cfg([f"method={method}", "head=linear"]).head._target_.endswith("LinearHead")


@pytest.mark.parametrize("launcher,schema", [
    ("joblib", "hydra_plugins.hydra_joblib_launcher.config:JobLibLauncherConf"),
    ("submitit_local", "hydra_plugins.hydra_submitit_launcher.config:LocalQueueConf"),
    ("submitit_slurm", "hydra_plugins.hydra_submitit_launcher.config:SlurmQueueConf"),
    ("ray", "hydra_plugins.hydra_ray_launcher._config:RayLauncherConf")])
def test_each_launcher_preset_is_the_plugins_schema_filled_in(launcher, schema):
    """Our presets replace the plugins' own (same names), so they must carry exactly the plugin's
    fields: a misspelt one would only fail on the cluster. The launcher is then built from it."""
    import dataclasses
    import importlib

    module, _, name = schema.partition(":")
    conf = getattr(pytest.importorskip(module), name)
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    from eexit.cli.jobs import register_resolvers
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF):
        cfg = compose("config", overrides=[f"hydra/launcher={launcher}", "hydra.sweep.dir=/tmp/x"],
                      return_hydra_config=True)
    assert set(cfg.hydra.launcher) == {f.name for f in dataclasses.fields(conf)}
    assert cfg.hydra.launcher._target_ == conf._target_
    importlib.import_module(conf._target_.rpartition(".")[0])
    assert type(instantiate(cfg.hydra.launcher)).__name__.endswith("Launcher")
    if launcher == "submitit_slurm":
        assert cfg.hydra.launcher.max_num_timeout == 3 and cfg.hydra.launcher.gpus_per_node == 1
