"""Names the configuration accepts, kept apart from the code that uses them so that checking a setting
loads no torch (``eexit.settings``)."""

SCORES = ("max_softmax", "confidence", "entropy", "patience")   # exit scores (eexit.exits.policy)
SURVIVOR_RULES = ("in_sample", "rate_matched", "cross_fit", "soft")   # BTS-EE's pools (eexit.training.survivors)
