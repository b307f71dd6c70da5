"""Exit decisions: the exit rule, scores and threshold policies, cached outputs, calibrators."""
from eexit.exits.cached import CachedExits
from eexit.exits.calibrators import Calibrator, ClassPrecisionMargin, GlobalThreshold
from eexit.exits.policy import ExitPolicy, score
from eexit.exits.rule import passes
from eexit.exits.scores import ExitScore, score_named, score_names

__all__ = ["CachedExits", "Calibrator", "ClassPrecisionMargin", "ExitPolicy", "ExitScore", "GlobalThreshold",
           "passes", "score", "score_named", "score_names"]
