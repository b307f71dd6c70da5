"""Hydra's own composition errors as one line: a misspelt group option or key, or an override that
does not parse. the ``eexit`` command asks Hydra to raise them (``HYDRA_FULL_ERROR``) instead of printing its
multi-line report, and prints this line with exit status 2.

Light on purpose (no torch): it runs before any work.
"""
from __future__ import annotations

import difflib
import importlib.util
import re
from pathlib import Path

from omegaconf import OmegaConf

from eexit.files.folders import folder_problem

CONF = Path(__file__).resolve().parents[1] / "conf"


def known_keys(conf: Path = CONF) -> list[str]:
    """Every dotted key of every yaml: ``seed``, ``data.batch_size``, ``method.boosted.survivors`` ...
    (a group's yaml contributes under its group, a ``# @package _global_`` one at the top)."""
    keys: set[str] = set()
    for path in conf.rglob("*.yaml"):
        group = path.parent.relative_to(conf).as_posix()
        text = path.read_text()
        prefix = "" if group in (".", "") or "@package _global_" in text else group.replace("/", ".") + "."
        try:
            node = OmegaConf.to_container(OmegaConf.create(text), resolve=False)
        except Exception:   # noqa: BLE001 - a yaml we cannot read has no keys to suggest
            continue
        keys |= {prefix + k for k in flatten(node)}
    return sorted(keys)


def flatten(node, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return [prefix.rstrip(".")] if prefix else []
    out = []
    for k, v in node.items():
        if k in ("defaults", "hydra") or not isinstance(k, str):
            continue
        out += [prefix + k] + (flatten(v, prefix + k + ".") if isinstance(v, dict) else [])
    return out


def missing_option(group: str, option: str, options: list[str]) -> str:
    return (f"{group}={option} is not an option of {group}: choose one of {', '.join(sorted(options))} "
            f"(eexit's yaml files in eexit/conf/{group}/, and yours in a --config-dir or hydra.searchpath folder)")


def config_folders(argv: list[str], conf: Path = CONF) -> tuple[list[Path], str | None]:
    """The folders Hydra will compose from: ours, then the user's (``--config-dir``/``-cd``, ``hydra.searchpath``
    entries ``file://``, ``pkg://`` or a bare path), and the line for the first one that does not exist."""
    named: list[str] = []
    for i, arg in enumerate(argv):
        if arg in ("-cd", "--config-dir"):
            named.append(argv[i + 1] if i + 1 < len(argv) else "")
        elif arg.startswith("--config-dir="):
            named.append(arg.partition("=")[2])
        name, eq, value = arg.lstrip("+~").partition("=")
        if name == "hydra.searchpath" and eq:
            named += [v.strip(" '\"") for v in value.strip("[] ").split(",") if v.strip(" '\"")]
    folders = [conf]
    for entry in named:
        folder = package_folder(entry[6:]) if entry.startswith("pkg://") else Path(entry.removeprefix("file://"))
        if folder is None or not folder.is_dir():
            return folders, (f"config folder {entry!r} does not exist; give --config-dir <folder> or "
                             f"hydra.searchpath=[file://<absolute folder>] naming a folder of yaml files")
        folders.append(folder)
    return folders, None


def package_folder(name: str) -> Path | None:
    """The folder of an importable package named as Hydra's ``pkg://`` does (``a.b`` or ``a/b``)."""
    try:
        spec = importlib.util.find_spec(name.strip("/").replace("/", "."))
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def check_command_line(argv: list[str], conf: Path = CONF) -> str | None:
    """The line for the first ``group=a,b`` on the command line naming an option that no config folder holds
    (ours or the user's), a config folder that does not exist, or an output folder that cannot be one. Checked
    before Hydra starts: it writes ``multirun.yaml`` (a sweep) or ``.hydra/`` (a run) into the output folder
    before it composes any job or calls the task."""
    folders, problem = config_folders(argv, conf)
    if problem is not None:
        return problem
    for arg in argv:
        name, eq, value = arg.lstrip("+~").partition("=")
        if name.split(".")[0] == "policy":   # the group's name before it was calibrator
            return f"{arg}: the group is called calibrator now; write {arg.replace('policy', 'calibrator', 1)}"
        if name in ("hydra.run.dir", "hydra.sweep.dir") and eq and value.strip(" '\"") in ("", "."):
            return f"{name}={value!r} would write into the current folder; give a folder of its own"
        if name in ("hydra.run.dir", "hydra.sweep.dir") and eq and (problem := folder_problem(Path(value))):
            return f"{name}={value}: {problem}"
        multirun = "-m" in argv or "--multirun" in argv
        if name == "hydra.run.dir" and not multirun and (Path(value) / "results.json").is_file():
            return (f"hydra.run.dir={value} holds a finished run (results.json); give another folder (a run "
                    f"that crashed there, without results.json, is finished by rerunning into it)")
        groups = [f / name for f in folders if name and (f / name).is_dir()]
        if not eq or not name or "/" in name or name == "hydra" or "(" in value or "[" in value \
                or not groups:   # hydra/launcher=... options also come from installed plugins
            continue
        options = sorted({p.stem for group in groups for p in group.glob("*.yaml")})
        for option in (v.strip() for v in value.split(",")):
            if option and option != "null" and option not in options:
                return missing_option(name, option, options)
    return None


def one_line(exc: Exception) -> str | None:
    """The line for a Hydra composition error or a setting a sweeper's check refused, or ``None`` for anything else."""
    from eexit.errors import EExitError
    if isinstance(exc, EExitError):
        return str(exc)
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    if isinstance(exc, MissingConfigException):
        missing = getattr(exc, "missing_cfg_file", None) or ""
        group, _, option = missing.rpartition("/")
        options = getattr(exc, "options", None)
        if group and options:
            return missing_option(group, option, options)
        return str(exc).splitlines()[0]
    if isinstance(exc, OverrideParseException):
        return f"cannot read the override: {str(exc).splitlines()[0]}; give key=value, group=option or +key=value"
    if isinstance(exc, ConfigCompositionException):
        match = re.search(r"Could not override '([^']+)'", str(exc))
        if match is None:
            return str(exc).splitlines()[0]
        key, known = match.group(1), known_keys()
        if key in known:   # another option of its group has the key (data.std: imagefolder, not digits)
            return (f"{key} is not a key of the options chosen here (another option of its group has it); add it "
                    f"with a leading +: +{key}=...")
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        hint = f"closest: {', '.join(close)}; " if close else ""
        return (f"{key} is not a key of the config ({hint}a key your own class takes is added with a leading +, "
                f"e.g. +{key}=...)")
    return None
