"""Networks: staged backbones, exit heads, and the EarlyExitNet that joins them."""
