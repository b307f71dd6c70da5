"""``GridSweeper``: Hydra's basic sweeper (same grid, same order, same batches) that checks a batch by
composing a covering subset of its jobs instead of all of them.

Hydra's basic sweeper composes every job of a batch once to check it, and its launcher composes each
again to run it: about 0.09 s a composition of a bts64-smoke job on this project's 2-core VM, all of
them before the first job starts. A
composition error comes from one override's value (an unknown option, a bad type), so composing a set
of jobs in which every (key, value) of the batch appears at least once still refuses the sweep before
any job runs; for a full grid that set is as large as the longest value list (4 of bts64's 64 jobs).
A failure that only a combination of values causes shows when that job is launched.
"""
from __future__ import annotations

from typing import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


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
    """The basic sweeper; :func:`covering_jobs` of each batch are composed to check it."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        super().validate_batch_is_legal(covering_jobs(batch))
