"""Wall seconds per phase of a run, kept in ``results.json`` (``phase_seconds``).

Every sweep job pays its fixed costs once per configuration, so they are measured where
they happen; ``make bench ARGS="--parts d"`` sums them over a sweep into a profile.
"""
from __future__ import annotations

import time
from contextlib import contextmanager


class Phases:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
