"""The ``eexit`` command (also ``python -m eexit``, and ``eexit`` in a checkout).

    eexit [overrides]                       one experiment (key=value, group=option, +key=value)
    eexit -m sweep=bts64 [overrides]        a sweep (Hydra's multirun)
    eexit export <checkpoint> <folder>      standalone per-stage programs and exits.json
    eexit aggregate <sweep folder>          a sweep's summary, again, from its jobs' results.json
    eexit --help | --version

The configs are the package's own (``pkg://eexit.conf``). A folder of yours joins them, without touching the
package, through Hydra's search path: ``--config-dir <folder>`` or ``hydra.searchpath=[file://<folder>]``; the
classes their ``_target_`` name are imported from your installed packages or from the folder you run in.
"""
from __future__ import annotations

import os
import sys
import warnings

import hydra
from omegaconf import DictConfig

from eexit import __version__
from eexit.cli.jobs import FAILED_IN_SWEEP, register_resolvers
from eexit.config.hydra_errors import check_command_line, one_line
from eexit.files.torch_files import weights_only_in_this_process

warnings.filterwarnings("ignore", message=".*torch.jit.*is deprecated.*")
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://eexit.conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from eexit.cli.job import run_job
    return run_job(cfg)


def subcommand(argv: list[str]) -> int | None:
    """The exit status of ``--version``, ``export`` or ``aggregate``; ``None`` when ``argv`` is an experiment."""
    if argv[:1] in (["--version"], ["-V"]):
        print(f"eexit {__version__}")
        return 0
    if argv[:1] == ["export"]:
        from eexit.deploy.export import main as export
        return export(argv[1:], prog="eexit export")
    if argv[:1] == ["aggregate"]:
        from eexit.cli.aggregate import main as aggregate
        return aggregate(argv[1:])
    return None


def entry(argv: list[str] | None = None) -> None:
    """The console script: a subcommand, or Hydra with ``argv`` as its command line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from eexit.cli.job import FAILED_JOBS
    FAILED_JOBS.clear(), FAILED_IN_SWEEP.clear()   # a fresh count per command (tests call entry() in one process)
    if (status := subcommand(argv)) is not None:
        sys.exit(status)
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")   # composition errors reach us, not Hydra's multi-line report
    weights_only_in_this_process()                     # no torch.load of this command can run code from a file
    if (problem := check_command_line(argv)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    sys.argv = [sys.argv[0], *argv]   # Hydra reads its command line from sys.argv
    if os.getcwd() not in sys.path:   # a _target_ in a module of the folder you run from is found, as with python -m;
        sys.path.append(os.getcwd())  # appended, so it never shadows an installed module
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
