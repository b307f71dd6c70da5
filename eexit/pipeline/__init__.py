"""The experiment pipeline behind the ``eexit`` command: the composition root, the plan, the backbone, the method's regimes."""
from eexit.pipeline.run import run_experiment

__all__ = ["run_experiment"]
