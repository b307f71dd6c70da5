"""The Hydra callback every multirun ends with: the sweep's summary (or, for ``plan=true``, its plan).

Kept light: Hydra instantiates it when any run starts, so it imports the aggregator (matplotlib, scipy,
torch) only when a multirun ends.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from hydra.experimental.callback import Callback

from eexit.cli.jobs import FAILED_IN_SWEEP
from eexit.files.atomic import atomic_write
from eexit.reporting.sweep_plan import load_plans, merge_plans, sweep_plan_text

log = logging.getLogger(__name__)


class AggregateOnMultirunEnd(Callback):
    """Hydra callback: aggregate the sweep folder when a multirun finishes."""

    def on_multirun_end(self, config, **kwargs) -> None:
        from eexit.reporting.aggregate import (
            aggregate,  # heavy (plots, statistics): only now
        )
        plans = load_plans(config.hydra.sweep.dir)
        if plans:   # plan=true: the jobs made plans, not results
            merged = merge_plans(plans)
            atomic_write(Path(config.hydra.sweep.dir) / "plan.json", json.dumps(merged, indent=2))
            print(f"[eexit] {sweep_plan_text(merged)}; {Path(config.hydra.sweep.dir) / 'plan.json'}")
            return
        try:
            s = aggregate(config.hydra.sweep.dir)
            FAILED_IN_SWEEP[:] = [str(Path(config.hydra.sweep.dir) / str(j)) for j in s["failed_jobs"]]
            print(f"[eexit] sweep summary: {s['markdown']} ({s['configurations']} configurations"
                  + (f"; paired over seeds at ≤ 2 pt: {s['better']} better, {s['worse']} worse, "
                     f"{s['indistinguishable']} indistinguishable, {s['single_seed']} single seed; after Holm's "
                     f"adjustment {s['better_holm']} better, {s['worse_holm']} worse"
                     if s["compared"] else "")
                  + (f"; {s['failed']} failed, {s['missing']} missing" if s["failed"] or s["missing"] else "") + ")")
            from eexit.reporting.wandb_sweep import sweep_dashboard
            sweep_dashboard(config, s)
        except FileNotFoundError as exc:
            log.warning("no sweep summary: %s", exc)
