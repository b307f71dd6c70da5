"""Exit decisions: the exit rule, scores and threshold policies, cached outputs, calibrators."""
from eexit.exits.cached import CachedExits
from eexit.exits.calibrators import Calibrator, ClassPrecisionMargin, GlobalThreshold
from eexit.exits.policy import SCORES, ExitPolicy, score
from eexit.exits.rule import passes

__all__ = ["SCORES", "CachedExits", "Calibrator", "ClassPrecisionMargin", "ExitPolicy", "GlobalThreshold",
           "passes", "score"]
