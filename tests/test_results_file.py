"""``results.json`` is one typed, versioned contract: written and read only by ``eexit.reporting.results_file.Results``."""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest

from eexit.errors import EExitError
from eexit.cli.jobs import completed_results
from eexit.reporting.results_file import FORMAT, Results

ROOT = Path(__file__).resolve().parents[1]
FACTS = {"dataset": "digits", "backbone": "resnet20", "method": "bts", "seed": 0, "backbone_test_acc": 0.99}


def test_write_then_read_gives_the_same_results_and_json_has_no_nan(tmp_path):
    r = Results(**FACTS, overrides=["seed=0"], curve=[{"setting": math.inf, "test_acc": math.nan}],
                regimes={"boosted": {"curve": []}}, wall_seconds=1.5)
    text = r.write(tmp_path).read_text()
    assert json.loads(text)["format"] == FORMAT and '"inf"' in text and "NaN" not in text
    back = Results.read(tmp_path / "results.json")
    assert back.regimes == {"boosted": {"curve": []}} and back.curve == [{"setting": "inf", "test_acc": None}]
    assert back["method"] == "bts" and back.get("headline") is None and "curve" in back and "oracle" not in back


def test_a_file_from_before_the_format_field_reads_as_version_1(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({**FACTS, "overrides": [], "regimes": {}}))
    assert Results.read(tmp_path / "results.json").format == FORMAT


@pytest.mark.parametrize("content,message", [
    ('{"format": "eexit-results/9", "dataset": "d"}', "has format 'eexit-results/9'; this eexit reads"),
    (json.dumps({**FACTS, "speed": 1}), "is not an eexit results.json (unknown speed)"),
    (json.dumps({"dataset": "d"}), "missing backbone, method, seed, backbone_test_acc"),
    ("[1, 2]", "not a JSON object"),
    ('{"dataset": ', "is not valid JSON"),
])
def test_a_foreign_damaged_or_newer_file_is_refused_in_one_line(tmp_path, content, message):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(EExitError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        Results.read(tmp_path / "results.json")
    assert "\n" not in str(err.value)


def test_the_resume_check_reads_through_the_contract(tmp_path):
    Results(**FACTS, overrides=["seed=0"], wall_seconds=2.0).write(tmp_path)
    assert completed_results(tmp_path, ["seed=0"]).wall_seconds == 2.0
    Results(**FACTS, overrides=["seed=0"]).write(tmp_path)            # no wall_seconds: unfinished
    assert completed_results(tmp_path, ["seed=0"]) is None
    (tmp_path / "results.json").write_text('{"format": "eexit-results/9"}')
    assert completed_results(tmp_path, ["seed=0"]) is None            # unreadable here: the job runs again


def readers_of_results_json_outside_the_contract() -> list[str]:
    """Modules whose code (not docstrings) names results.json and also parses JSON themselves."""
    found = []
    for folder in ("eexit", "benchmarks"):
        for path in sorted((ROOT / folder).glob("*.py")) + sorted((ROOT / folder).glob("*/*.py")):
            if path.name == "results_file.py" or "local" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
            names_it = any(isinstance(n, ast.Constant) and isinstance(n.value, str) and "results.json" in n.value
                           and id(n) not in docstrings for n in ast.walk(tree))
            parses = any(isinstance(n, ast.Attribute) and n.attr in ("load", "loads") and
                         isinstance(n.value, ast.Name) and n.value.id == "json" for n in ast.walk(tree))
            if names_it and parses:
                found.append(str(path.relative_to(ROOT)))
    return found


def test_every_reader_of_results_json_goes_through_the_contract():
    assert readers_of_results_json_outside_the_contract() == []
