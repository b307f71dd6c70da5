"""``GridSweeper``: Hydra's basic sweeper (same grid, same order, same batches) that checks a batch by
composing a covering subset of its jobs instead of all of them.

Hydra's basic sweeper composes every job of a batch once to check it, and its launcher composes each
again to run it: about 0.09 s a composition of a bts64-smoke job on this project's 2-core VM, all of
them before the first job starts. A
composition error comes from one override's value (an unknown option, a bad type), so composing a set
of jobs in which every (key, value) of the batch appears at least once still refuses the sweep before
any job runs; for a full grid that set is as large as the longest value list (4 of bts64's 64 jobs).
A failure that only a combination of values causes shows when that job is launched.

The same covering jobs are composed once more before the sweep writes anything (``multirun.yaml``, a job's
folder) and each is checked by ``eexit.config.settings.check_config``, what ``run.py`` checks before a single run: a bad
value anywhere in the grid (``-m seed=0,1,-1``) answers in one line, exit 2, before the first job starts.
"""
from __future__ import annotations

from typing import Any, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser


def covering_jobs(batch: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """A small set of jobs in which every override of ``batch`` appears: greedily the job with the most
    overrides not yet covered, first such job on ties (the grid's order)."""
    uncovered = {o for job in batch for o in job}
    chosen = []
    while uncovered:
        best = max(batch, key=lambda job: len(uncovered.intersection(job)))
        chosen.append(best)
        uncovered.difference_update(best)
    return chosen


class GridSweeper(BasicSweeper):
    """The basic sweeper; :func:`covering_jobs` of the whole grid are composed and their settings checked before
    anything is written (then each batch needs no check of its own)."""

    checked = False

    def sweep(self, arguments: list[str]) -> Any:
        from eexit.config.settings import check_config   # light: no torch
        params = self._parse_config() + list(arguments)
        overrides = OverridesParser.create(config_loader=self.hydra_context.config_loader).parse_overrides(params)
        jobs = [job for batch in self.split_arguments(overrides, None) for job in batch]
        for job in covering_jobs(jobs):
            check_config(self.hydra_context.config_loader.load_sweep_config(self.config, list(job)))
        self.checked = True
        return super().sweep(arguments)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        if not self.checked:
            super().validate_batch_is_legal(covering_jobs(batch))
