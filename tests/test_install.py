"""eexit as a user gets it: a wheel built from the checkout, installed into a fresh environment, run from empty
folders outside the checkout, with a config folder of the user's own (their method, data and network classes).

The fresh environment has no network: its dependencies come from the test's own environment (a ``.pth`` line
naming its site-packages, which leaves that environment's editable install of eexit out), and the wheel is
installed with ``--no-deps``. Everything else is what ``pip install eexit-*.whl`` gives a user.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["data=digits", "pretrain.epochs=1", "method.epochs=1", "placement.num_exits=2", "logger=none",
         "trainer.enable_progress_bar=false", "trainer.accelerator=cpu"]
USER_CODE = {
    "my_exits.py": '''
from eexit.data import SyntheticDataModule
from eexit.methods import FrozenHeads


class TaggedHeads(FrozenHeads):
    """Frozen heads whose regime carries the user's tag: proof that this class, not ours, trained them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.primary = f"mine_{self.primary}"


class FewImages(SyntheticDataModule):
    name = "few_images"
''',
    "my_net.py": '''
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, width: int = 8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU())
        self.fc = nn.Linear(2 * width, 3)

    def forward(self, x):
        return self.fc(self.layer2(self.layer1(self.stem(x))).mean((2, 3)))
''',
    "my_conf/method/tagged.yaml": "# @package _global_\ndefaults:\n  - nonboosted\n  - _self_\n"
                                  "method:\n  _target_: my_exits.TaggedHeads\n  name: tagged\n  regime: tagged\n",
    "my_conf/data/few.yaml": "defaults:\n  - synthetic\n  - _self_\n_target_: my_exits.FewImages\n"
                             "train_size: 128\nval_size: 64\ntest_size: 64\nbatch_size: 64\n",
    "my_conf/backbone/tiny.yaml": "defaults:\n  - module\n  - _self_\nmodel:\n  _target_: my_net.TinyNet\n"
                                  "stages: [stem, layer1, layer2]\n",
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh environment holding eexit from a wheel built from a copy of the checkout."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:   # the tracked tree, as a clone has it (a build writes build/ beside its sources)
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source)],
                   check=True, capture_output=True)
    wheel = next((work / "dist").glob("eexit-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "env")], check=True)
    python = work / "env" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, env=user_env()).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(pip + ["--python", str(python), "install", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    return work / "env" / "bin"


def user_env() -> dict:
    """A user's environment: nothing on PYTHONPATH (the checkout must not leak in), eexit's defaults for folders."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EEXIT_DATA", "EEXIT_CACHE")}


def run(bin_dir: Path, args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "eexit"), *args], cwd=cwd, capture_output=True, text=True, env=user_env(),
                          timeout=timeout)


pytestmark = pytest.mark.xdist_group("wheel")   # both tests on one worker: the wheel is built and installed once


def test_the_wheel_runs_an_experiment_from_an_empty_folder(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c", "import eexit, eexit.conf; print(eexit.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True, env=user_env()).stdout
    assert str(ROOT) not in where and "site-packages" in where   # the wheel's copy, not the checkout
    from eexit import __version__
    assert run(installed, ["--version"], tmp_path).stdout.strip() == f"eexit {__version__}"
    module = subprocess.run([str(installed / "python"), "-m", "eexit", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, env=user_env())
    assert module.stdout.strip() == f"eexit {__version__}"
    help_text = run(installed, ["--help"], tmp_path).stdout
    groups = {p.name for p in (ROOT / "eexit" / "conf").iterdir() if p.is_dir() and p.name != "hydra"}
    assert groups and all(f"\n{group}: " in help_text for group in groups), help_text
    done = run(installed, [*SMALL, "method=nonboosted"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    results = list(tmp_path.glob("outputs/*/*/results.json"))
    assert len(results) == 1 and json.loads(results[0].read_text())["regimes"]["nonboosted"]["curve"]
    assert (tmp_path / ".cache" / "backbones").is_dir()   # the cache lands in the folder it was run from
    summary = run(installed, ["aggregate", str(results[0].parents[1])], tmp_path)   # the day's runs, summarised
    assert summary.returncode == 0 and (results[0].parents[1] / "summary.md").is_file(), summary.stderr[-2000:]
    exported = run(installed, ["export", str(results[0].parent / "checkpoints" / "nonboosted.pt"), "exported"], tmp_path)
    assert exported.returncode == 0 and (tmp_path / "exported" / "exits.json").is_file(), exported.stderr[-2000:]


def user_project(folder: Path) -> Path:
    for name, text in USER_CODE.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text.lstrip())
    return folder / "my_conf"


def test_a_user_config_folder_adds_its_own_method_data_and_network(installed, tmp_path):
    conf = user_project(tmp_path)
    mine = ["method=tagged", "data=few", "backbone=tiny", *SMALL[1:], "hydra.run.dir=through-config-dir"]
    listed = run(installed, ["--help", "--config-dir", str(conf)], tmp_path).stdout
    assert "tagged" in listed and "few" in listed and "tiny" in listed
    done = run(installed, ["--config-dir", str(conf), *mine], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "through-config-dir" / "results.json").read_text())
    assert (results["method"], list(results["regimes"]), results["dataset"]) == ("tagged", ["mine_tagged"], "few_images")
    assert results["backbone"] == "module-TinyNet" and [b["name"] for b in results["blocks"]] == \
        ["stem", "layer1", "layer2", "classifier"]
    planned = run(installed, [f"hydra.searchpath=[file://{conf}]", *mine[:-1], "plan=true", "hydra.run.dir=through-searchpath"],
                  tmp_path)
    assert planned.returncode == 0, planned.stderr[-2000:]
    plan = json.loads((tmp_path / "through-searchpath" / "plan.json").read_text())
    assert plan["images"]["train"] == 128 and plan["backbone"] == "module-TinyNet"
    misspelt = run(installed, ["--config-dir", str(conf), "data=fwe"], tmp_path)
    assert misspelt.returncode == 2 and "few" in misspelt.stderr and "cifar10" in misspelt.stderr
    elsewhere = run(installed, ["--config-dir", str(conf), *mine[:-1], "hydra.run.dir=out"], tmp_path / "my_conf")
    assert elsewhere.returncode == 2 and "cannot import my_exits.FewImages" in elsewhere.stderr.strip().splitlines()[-1]
