"""Exit decisions: scores, threshold policies and calibrators."""
from eexit.exits.policy import SCORES, ExitPolicy, score

__all__ = ["SCORES", "ExitPolicy", "score"]
