#!/usr/bin/env python
"""eexit entry point: ``python run.py [overrides]`` or ``python run.py -m sweep=bts64``.

Every job writes its config, ``results.json`` and loggers into its Hydra output folder. Errors
the user can fix print as one line and exit with status 2; any failure leaves ``FAILED`` (the
reason) in the job's folder; the W&B run is always finished, so one failed job never poisons a
multirun. A multirun rerun into the same ``hydra.sweep.dir`` skips the jobs that finished, and
exits with status 1 when any job failed.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from eexit.files.disk_full import full_disk_line, remove_partial
from eexit.distributed import is_global_zero
from eexit.errors import EExitError
from eexit.files.torch_files import weights_only_in_this_process
from eexit.config.hydra_errors import check_command_line, one_line
from eexit.reporting.loggers import finish_wandb
from eexit.cli.jobs import FAILED_IN_SWEEP, clear_failed, completed_results, register_resolvers, write_failed
from eexit.cli.objective import objective_value
from eexit.config.settings import check_config
from eexit.reporting.results_file import Results

warnings.filterwarnings("ignore", message=".*torch.jit.*is deprecated.*")
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
log = logging.getLogger("eexit")
register_resolvers()
FAILED_JOBS: list[str] = []


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    run_dir, overrides = Path(hc.runtime.output_dir), list(hc.overrides.task)
    sweeping = hc.mode == RunMode.MULTIRUN
    if sweeping:
        try:
            done = completed_results(run_dir, overrides)   # a rerun of the sweep: this job already finished
        except EExitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        if done is not None:
            print(f"[eexit] job {hc.job.num}: complete results in {run_dir}, not run again")
            return objective_value(done, cfg.objective)
    try:   # every setting, before torch, Lightning and W&B load: a bad one answers in about a second
        check_config(cfg)
    except EExitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        write_failed(run_dir, str(exc))
        if sweeping:
            FAILED_JOBS.append(str(run_dir))
            return None
        sys.exit(2)
    from eexit.pipeline import run_experiment
    if not is_global_zero():   # a DDP copy Lightning started: computes in step, writes nothing here
        run_experiment(cfg, run_dir, overrides)
        return None
    clear_failed(run_dir)
    from eexit.reporting.summary import print_summary

    failed = True
    try:
        results = run_experiment(cfg, run_dir, overrides)
        failed = False
    except EExitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        write_failed(run_dir, str(exc))
        if sweeping:   # keep the sweep going; the job's folder records the failure
            FAILED_JOBS.append(str(run_dir))
            return None
        sys.exit(2)
    except Exception as exc:   # a bug or an environment failure: recorded, and the traceback kept
        if (line := full_disk_line(exc, [run_dir, Path(cfg.cache_dir)])) is not None:
            remove_partial(run_dir, Path(cfg.cache_dir))   # nothing half-written stays to keep the disk full
            print(f"error: {line}", file=sys.stderr)
            write_failed(run_dir, line)
            if sweeping:
                FAILED_JOBS.append(str(run_dir))
                return None
            sys.exit(2)
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
    print_summary(results, run_dir)   # last, after the loggers have said their goodbyes
    return objective_value(results, cfg.objective)   # what a sweeper such as Optuna optimises


if __name__ == "__main__":
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")   # composition errors reach us, not Hydra's multi-line report
    weights_only_in_this_process()                     # no torch.load of this command can run code from a file
    if (problem := check_command_line(sys.argv[1:])) is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    try:
        main()
    except Exception as exc:   # noqa: BLE001 - only Hydra's composition errors are answered here
        line = one_line(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    failed = FAILED_JOBS or FAILED_IN_SWEEP   # jobs in this process, or (other launchers) found by the summary
    if failed:
        print(f"error: {len(failed)} job(s) of the sweep failed; each folder's FAILED file says why: "
              + ", ".join(failed), file=sys.stderr)
        sys.exit(1)
