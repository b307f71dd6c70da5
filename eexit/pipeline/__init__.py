"""The experiment pipeline behind ``run.py``: backbone, method regimes, evaluation, results."""
from eexit.pipeline.run import RunContext, run_experiment

__all__ = ["RunContext", "run_experiment"]
