"""What exits cost: MACs per backbone block and per head (fvcore, ``flops.py``), the cost of leaving at each exit
(``exits.py``), and where heads go (``placement.py``: block indices or a cost-fraction rule)."""
from eexit.costs.exits import ExitCosts, exit_costs
from eexit.costs.flops import block_macs, count_macs, cumulative
from eexit.costs.placement import attach_points, resolve_placement

__all__ = ["ExitCosts", "attach_points", "block_macs", "count_macs", "cumulative", "exit_costs", "resolve_placement"]
