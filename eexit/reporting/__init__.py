"""results.json, trade-off plots and W&B tables."""
