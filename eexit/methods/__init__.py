"""Training schemes: backbone pretraining, non-boosted, boosted (BTS-EE), post-trained (PTEENet), joint (EENets)."""
