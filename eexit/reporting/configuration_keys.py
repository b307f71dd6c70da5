"""Which jobs of a sweep are one configuration, and how a configuration is labelled: by the settings the jobs
composed (``results.json`` ``configuration`` and ``settings``, eexit.config.identity), never by their command lines;
results written before those fields existed fall back to the overrides without the seed."""
from __future__ import annotations

import json

SKIP = ("sweep=", "hydra.", "logger", "trainer.", "group=", "seed=")   # not part of a configuration's label


def bare(override: str) -> str:
    return override.lstrip("+")


def configuration_key(run: dict) -> tuple[str, ...]:
    """The job's configuration: every setting but the seed (``configuration``, eexit.config.identity); for results
    written before it existed, the job's overrides without its seed."""
    if run.get("configuration"):
        return ("configuration", run["configuration"])
    return tuple(o for o in run.get("overrides", []) if not bare(o).startswith("seed="))


def varying_settings(runs: list[dict]) -> list[str]:
    """The settings whose values differ between jobs: what a configuration's label must show."""
    known = [r["settings"] for r in runs if r.get("settings")]
    keys = set().union(*known) if known else set()
    return sorted(k for k in keys if len({s.get(k) for s in known}) > 1)


def settings_label(run: dict, varying: list[str]) -> str:
    values = run.get("settings") or {}
    return " ".join(f"{k}={json.loads(values[k]) if k in values else '(unset)'}" for k in varying) or "(defaults)"


def group_runs(runs: list[dict]) -> list[list[dict]]:
    """Jobs grouped by configuration, in the order the configurations first appear."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(configuration_key(r), []).append(r)
    return list(groups.values())


def config_label(run: dict, common: set[str] = frozenset()) -> str:
    """The overrides that set this configuration apart (those shared by every job are left out)."""
    parts = [o for o in run.get("overrides", []) if not bare(o).startswith(SKIP) and o not in common]
    return " ".join(parts) or "(defaults)"
