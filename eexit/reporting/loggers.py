"""W&B for the ``logger`` group: online with credentials, otherwise offline in the run folder.

``logger=wandb`` (default) logs to W&B and CSV, ``logger=csv`` to CSV only, ``logger=none``
to nothing (``eexit/conf/logger/``). Offline W&B runs land in ``<run>/wandb/offline-run-*``;
upload them later with ``wandb sync <run>/wandb/offline-run-*``.
"""
from __future__ import annotations

import logging
import netrc
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        path = os.environ.get("NETRC", str(Path.home() / ".netrc"))
        return netrc.netrc(path).authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_mode(requested: str) -> str:
    """``WANDB_MODE`` in the environment wins; ``auto`` = online with credentials, else offline."""
    env = os.environ.get("WANDB_MODE")
    if env:
        return "offline" if env == "dryrun" else env
    if requested != "auto":
        return requested
    return "online" if has_wandb_credentials() else "offline"


def wandb_logger(save_dir: str, mode: str = "auto", project: str = "eexit", entity: str | None = None,
                 group: str | None = None, name: str | None = None, job_type: str = "train", tags=()):
    """Lightning's ``WandbLogger`` with ``mode: auto`` resolved (``eexit/conf/logger/wandb.yaml``)."""
    from lightning.pytorch.loggers import WandbLogger
    mode = wandb_mode(mode)
    if mode != "disabled":
        log.info("W&B mode: %s%s", mode, " (no credentials; sync later with `wandb sync <run>/wandb/offline-run-*`)"
                 if mode == "offline" else "")
    import wandb
    share_package_list(wandb)
    logger = WandbLogger(save_dir=save_dir, project=project, entity=entity or None, group=group or None,
                         name=name or None, job_type=job_type, tags=list(tags or []), mode=mode, log_model=False,
                         settings=wandb.Settings(silent=True))   # eexit prints the summary and the sync hint
    logger._wandb_init.pop("anonymous", None)   # Lightning 2.6 always passes anonymous=None; wandb 0.31 warns about it
    return logger


def share_package_list(wandb) -> None:
    """At every ``wandb.init`` W&B lists the installed packages for the run's requirements file,
    reading every package's metadata (0.2 s on our venv, 4 % of a bts64-smoke job; ``make bench
    ARGS="--parts d"``). Packages cannot change inside a process, so the jobs of an in-process sweep
    share one reading; each run still records the full list."""
    util = wandb.util
    if getattr(util.working_set, "eexit_shared", False):
        return
    read, packages = util.working_set, []

    def working_set():
        if not packages:
            packages.extend(read())
        return iter(packages)

    working_set.eexit_shared = True
    util.working_set = working_set


def wandb_run(loggers):
    """The live W&B run behind the loggers, or None: also for ``WANDB_MODE=disabled``, whose no-op run
    names a folder that does not exist (writing ``results.json`` there failed after the whole run)."""
    for lg in loggers:
        if type(lg).__name__ == "WandbLogger":
            run = lg.experiment
            return None if getattr(run, "disabled", False) else run
    return None


def finish_wandb(failed: bool = False) -> None:
    """Always close the W&B run, so the next job of a multirun starts its own. A job that never
    imported wandb has no run (and the host may not have wandb at all: logger=csv)."""
    wandb = sys.modules.get("wandb")
    if wandb is None:
        return
    try:
        if wandb.run is not None:
            wandb.finish(exit_code=1 if failed else 0)
    except Exception as exc:  # never mask the job's own error
        log.warning("could not finish the W&B run: %s", exc)
