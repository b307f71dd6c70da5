#!/usr/bin/env python
"""eexit entry point: ``python run.py [overrides]`` or ``python run.py -m sweep=bts64``.

Every job writes its config, ``results.json``, ``tradeoff.png`` and loggers into its
Hydra output folder. Errors the user can fix print as one line and exit with status 2;
the W&B run is always finished, so one failed job never poisons a multirun.
"""
from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from eexit.errors import EExitError
from eexit.loggers import finish_wandb

warnings.filterwarnings("ignore", message=".*torch.jit.*is deprecated.*")
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
log = logging.getLogger("eexit")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from eexit.pipeline import run_experiment
    from eexit.pipeline.summary import print_summary

    hc = HydraConfig.get()
    run_dir, failed = Path(hc.runtime.output_dir), True
    try:
        results = run_experiment(cfg, run_dir, list(hc.overrides.task))
        failed = False
    except EExitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if hc.mode.name == "MULTIRUN":  # keep the sweep going; the job's folder records the failure
            (run_dir / "FAILED").write_text(f"{exc}\n")
            return None
        sys.exit(2)
    finally:
        finish_wandb(failed)
    print_summary(results, run_dir)   # last, after the loggers have said their goodbyes
    return results.get("backbone_test_acc")


if __name__ == "__main__":
    main()
