"""Pure functions over cached exit outputs: the simulated exits, operating points, curves, Pareto fronts and
headlines (``curves.py``); the field's analyses, budgets, calibration and confusion (``analysis.py``)."""
from eexit.evaluation.curves import (best_within, curve, evaluate, headline, operating_point, pareto_front, simulate,
                                     validated_front, validated_headline)

__all__ = ["best_within", "curve", "evaluate", "headline", "operating_point", "pareto_front", "simulate",
           "validated_front", "validated_headline"]
