"""The jobs of a grid sweep, as Hydra's basic sweeper expands them: what a sweep folder should hold (the summary
counts missing jobs by it, a rerun checks its finished jobs against it). Light: no torch."""
from __future__ import annotations

GRID_SWEEPERS = ("BasicSweeper", "GridSweeper")   # Hydra's, and ours (hydra_plugins/eexit_grid_sweeper): one grid


def grid_jobs(config) -> list[list[str]] | None:
    """Each job's overrides, in launch order, as Hydra's basic sweeper expands the grid (the sweep config's
    parameters, then the command line); None for a sweeper without a fixed grid (Optuna & co.)."""
    if not str(config.hydra.sweeper.get("_target_", "")).endswith(GRID_SWEEPERS):
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    overrides = OverridesParser.create().parse_overrides(params + list(config.hydra.overrides.task))
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]
