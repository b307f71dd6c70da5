"""README and docs/ say only what is true of eexit/conf/ and the Makefile: every ``eexit`` command they
show composes, every ``make`` target they name exists, and the configuration table lists exactly the
options of each config group."""
from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands() -> list[tuple[str, str]]:
    """``(page, command)`` for every ``eexit ...`` experiment at the start of a code line or in inline code (every
    word after ``eexit`` a flag or an override: subcommands and prose are not experiments); templates (a config
    group given as ``<...>``, or ``...``) and commands with a user's own config folder (tests/test_install.py runs
    those) are left out."""
    found = []
    for page in PAGES:
        for cmd in re.findall(r"(?:^|`)(eexit(?![\w/.\-])(?: [^`#|\n]*)?)", page.read_text(), flags=re.M):
            words = cmd.split()[1:]
            if all(w in ("-m", "--multirun") or "=" in w for w in words) and "..." not in cmd and "searchpath" not in cmd \
                    and not re.search(r"(^|\s)[a-z_/]+=<", cmd):
                found.append((page.name, cmd.strip()))
    assert len(found) > 30   # the finder still finds the pages' commands
    return sorted(set(found))


@pytest.mark.parametrize("page,command", shown_commands())
def test_every_command_shown_composes(page, command):
    args = [a for a in shlex.split(re.sub(r"<[^>]*>", "x", command))[1:] if a not in ("-m", "--multirun")]
    if "-m" in command.split():   # a sweep: its first job (a,b,c -> a; lists in [...] stay whole)
        args = [re.sub(r"=([^\[][^,]*),.*", r"=\1", a) for a in args]
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "eexit" / "conf")):
        cfg = compose("config", overrides=args, return_hydra_config=True)
    assert cfg.data._target_ and cfg.method.name


def test_every_make_target_named_exists():
    help_text = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    targets = {line.split()[0] for line in help_text.splitlines() if line.strip()}
    named = {t for page in PAGES for t in re.findall(r"make ([a-z][a-z0-9-]+)", page.read_text())} - {"the"}
    assert named and not named - targets, sorted(named - targets)


def test_configuration_table_lists_exactly_each_groups_options():
    rows = [line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines() if line.startswith("| `")]
    checked = set()
    for row in rows:
        group, options = [c.strip() for c in row.strip("|").split("|")[:2]]
        group = group.strip("`")
        if not (ROOT / "eexit" / "conf" / group).is_dir():
            continue
        listed = {o for o in re.findall(r"`([^`]+)`", options) if re.fullmatch(r"[a-z0-9_]+", o)}
        assert listed == {p.stem for p in (ROOT / "eexit" / "conf" / group).glob("*.yaml")}, group
        checked.add(group)
    assert checked >= {"data", "backbone", "head", "calibrator", "method", "trainer", "callbacks", "logger", "sweep",
                       "experiment"}
