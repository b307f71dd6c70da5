"""What a job leaves in its folder, read back by a rerun: complete ``results.json`` (skip the
job), ``FAILED`` (why it failed). Light imports only: the ``eexit`` command consults it before the stack loads.

Run folders are unique: the default ``hydra.run.dir``/``hydra.sweep.dir`` carry microseconds and
the process id (``${eexit_pid:}``), so two runs started in the same second never share one.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from eexit.config.identity import differing
from eexit.errors import EExitError
from eexit.files.atomic import atomic_write
from eexit.reporting.grid import grid_jobs
from eexit.reporting.results_file import Results

FAILED_IN_SWEEP: list[str] = []   # filled by the sweep summary at a multirun's end, whatever the launcher


def register_resolvers() -> None:
    """``${eexit_pid:}`` in the config: this process's id (for unique run folders);
    ``${eexit_gpus:}``: 1 when torch sees a GPU here, else 0 (the Ray launcher's GPUs per job);
    ``${eexit_sqlite:path}``: an SQLAlchemy URL for an SQLite file, its folder created (Optuna studies);
    ``${eexit_study_seed:seed,study,storage}``: ``seed`` plus the trials the study already holds."""
    if not OmegaConf.has_resolver("eexit_pid"):
        OmegaConf.register_new_resolver("eexit_pid", lambda: os.getpid(), use_cache=True)
    if not OmegaConf.has_resolver("eexit_gpus"):
        OmegaConf.register_new_resolver("eexit_gpus", gpus_here, use_cache=True)
    if not OmegaConf.has_resolver("eexit_sqlite"):
        OmegaConf.register_new_resolver("eexit_sqlite", sqlite_url)
    if not OmegaConf.has_resolver("eexit_study_seed"):
        OmegaConf.register_new_resolver("eexit_study_seed", study_seed, use_cache=True)


def study_seed(seed: int, study: str, storage: str) -> int:
    """A sampler seed that moves on with the study: a continued search reseeded with the same
    number would propose its first trials again (Optuna's random start-up trials repeat)."""
    import optuna  # only when a config asks
    try:
        done = len(optuna.load_study(study_name=study, storage=storage).trials)
    except KeyError:   # no such study yet
        done = 0
    return int(seed) + done


def sqlite_url(path: str) -> str:
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def gpus_here() -> int:
    import torch  # only when a config asks
    return int(torch.cuda.is_available())


def completed_results(run_dir: Path, overrides: list[str], settings: dict | None = None) -> Results | None:
    """The job's results when a finished run of the same job is in ``run_dir`` (``results.json`` is
    written last and atomically, so a complete one means the job finished), else None. A folder
    holding another job's results is an error: a rerun must use the same sweep settings; so is a finished job
    whose settings (``eexit.config.identity``) differ from what the same command line composes now (a default
    changed since): its results would be averaged with runs of another configuration."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        return None
    try:
        results = Results.read(path)
    except EExitError:
        return None   # unreadable or foreign: run the job again (the new file replaces it atomically)
    if results.wall_seconds is None:
        return None
    if sorted(results.get("overrides", [])) != sorted(overrides):
        raise EExitError(f"{run_dir} holds results of another job ({' '.join(results.get('overrides', []))}); "
                         "resume a sweep with the same settings, or give a new hydra.sweep.dir")
    if settings is not None and results.settings is not None and (changed := differing(results.settings, settings)):
        shown = ", ".join(changed[:4]) + (f" (+{len(changed) - 4} more)" if len(changed) > 4 else "")
        raise EExitError(f"{run_dir} finished with other settings than this command composes now ({shown}); a "
                         f"default changed since: give a new hydra.sweep.dir, or set those keys as the job had them")
    return results


def write_failed(run_dir: Path, reason: str) -> None:
    """``FAILED`` in the job's folder: the reason in one line (the aggregator lists failed jobs)."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / "FAILED", " ".join(str(reason).split()) + "\n")
    except OSError:   # a full disk, a folder that cannot be made: the line on stderr still says why
        pass


def clear_failed(run_dir: Path) -> None:
    """A rerun that starts the job again removes the earlier attempt's ``FAILED``."""
    (Path(run_dir) / "FAILED").unlink(missing_ok=True)


class SweepFolderCheck(Callback):
    """Hydra callback: before a multirun writes anything (``multirun.yaml``, any job's ``.hydra/``), the rerun
    of a sweep into its folder must launch each finished job with the same settings; otherwise one line and
    exit 2, the folder untouched (values reordered or changed would put other jobs' results under these
    numbers)."""

    def on_multirun_start(self, config, **kwargs) -> None:
        jobs = grid_jobs(config)
        subdir = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir")
        if jobs is None or subdir != "${hydra.job.num}":
            return
        try:
            for num, overrides in enumerate(jobs):
                completed_results(Path(config.hydra.sweep.dir) / str(num), overrides)   # raises on another job's
        except EExitError as exc:   # Hydra turns a callback's exception into a warning: exit here
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
