"""Each reported operating point's time saving, measured on the run's device: the headlines, the budget rows and
the configured point of a regime get ``time_saving`` (``eexit/deploy/time_saving.py``) beside their MAC saving.

The images are ``time_samples`` test images spread evenly over the test split (so the exit mix is the split's,
unlike the real-skip check's sample, which is spread over the exits); points that share a setting are timed once.
"""
from __future__ import annotations

import torch

from eexit.deploy.time_saving import time_saving
from eexit.exits import ExitPolicy


def timed_points(run, fields: dict, net, policy: ExitPolicy, thresholds_for) -> None:
    """Adds ``time_saving`` to every headline point, budget row with a setting, and the operating point of
    ``fields`` (a regime's evaluated fields), in place; nothing when ``run.time_samples`` is ``None``."""
    if not run.time_samples:
        return
    n = run.dm.num_samples("test")
    chosen = torch.linspace(0, n - 1, min(int(run.time_samples), n)).round().long().unique()
    images = torch.cat([x for x, _ in run.dm.loader("test", indices=chosen)])
    timed: dict = {}

    def measure(key, make_policy) -> dict:
        if key not in timed:
            timed[key] = time_saving(net, make_policy(), images, run.device)
        return timed[key]

    fields["operating_point"]["time_saving"] = measure("deployed", lambda: policy)
    points = [p for p in (fields.get("headline") or {}).values() if p is not None] + \
        [row for row in fields.get("cost_table") or [] if row.get("setting") is not None]
    for p in points:
        p["time_saving"] = measure(p["setting"], lambda s=p["setting"]: ExitPolicy(policy.score_kind, thresholds_for(s)))
