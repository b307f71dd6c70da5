"""One Hydra job of the ``eexit`` command: check the settings, run the experiment, leave its folder complete or
marked ``FAILED``.

Errors the user can fix print as one line and exit with status 2; any failure leaves ``FAILED`` (the reason) in
the job's folder; the W&B run is always finished, so one failed job never poisons a multirun. A job of a multirun
rerun into the same ``hydra.sweep.dir`` that already finished is not run again.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from eexit.cli.jobs import clear_failed, completed_results, write_failed
from eexit.cli.objective import objective_value
from eexit.config.identity import settings_of
from eexit.config.settings import check_config
from eexit.distributed import is_global_zero
from eexit.errors import EExitError
from eexit.files.disk_full import full_disk_line, remove_partial
from eexit.reporting.loggers import finish_wandb
from eexit.reporting.results_file import Results

log = logging.getLogger("eexit")
FAILED_JOBS: list[str] = []   # the folders of this process's failed jobs (a multirun goes on past them)


def refuse(run_dir: Path, line: str, sweeping: bool) -> None:
    """A job that cannot go on: the line on stderr and in ``FAILED``; a run stops with status 2, a sweep goes on."""
    print(f"error: {line}", file=sys.stderr)
    write_failed(run_dir, line)
    if not sweeping:
        sys.exit(2)
    FAILED_JOBS.append(str(run_dir))


def run_job(cfg: DictConfig) -> float | None:
    """The task Hydra calls once per job; returns the number a sweeper optimises (``objective``)."""
    hc = HydraConfig.get()
    run_dir, overrides = Path(hc.runtime.output_dir), list(hc.overrides.task)
    sweeping = hc.mode == RunMode.MULTIRUN
    if sweeping:
        try:
            done = completed_results(run_dir, overrides, settings_of(cfg))   # a rerun: this job already finished
        except EExitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        if done is not None:
            print(f"[eexit] job {hc.job.num}: complete results in {run_dir}, not run again")
            return objective_value(done, cfg.objective)
    try:   # every setting, before torch, Lightning and W&B load: a bad one answers in about a second
        check_config(cfg)
    except EExitError as exc:
        return refuse(run_dir, str(exc), sweeping)
    from eexit.pipeline import run_experiment
    if not is_global_zero():   # a DDP copy Lightning started: computes in step, writes nothing here
        run_experiment(cfg, run_dir, overrides)
        return None
    clear_failed(run_dir)
    failed = True
    try:
        results = run_experiment(cfg, run_dir, overrides)
        failed = False
    except EExitError as exc:
        return refuse(run_dir, str(exc), sweeping)
    except Exception as exc:   # a bug or an environment failure: recorded, and the traceback kept
        if (line := full_disk_line(exc, [run_dir, Path(cfg.cache_dir)])) is not None:
            remove_partial(run_dir, Path(cfg.cache_dir))   # nothing half-written stays to keep the disk full
            return refuse(run_dir, line, sweeping)
        write_failed(run_dir, f"{type(exc).__name__}: {exc}")
        if not sweeping:
            raise
        log.exception("job %s failed", hc.job.num)
        FAILED_JOBS.append(str(run_dir))
        return None
    finally:
        finish_wandb(failed)
    if not isinstance(results, Results):   # plan=true: nothing trained; the plan is the result
        print(f"[eexit] plan: {run_dir / 'plan.json'}")
        return None
    from eexit.reporting.summary import print_summary
    print_summary(results, run_dir)   # last, after the loggers have said their goodbyes
    return objective_value(results, cfg.objective)   # what a sweeper such as Optuna optimises
