"""Names the configuration accepts, kept apart from the code that uses them so that checking a setting
loads no torch (``eexit.config.settings``)."""

PLACEMENT_RULES = ("pareto", "fine", "linear", "gold_ratio")   # cost-fraction rules (eexit.costs.placement)
SURVIVOR_RULES = ("in_sample", "rate_matched", "cross_fit", "soft")   # BTS-EE's pools (eexit.training.survivors)
