"""eexit: an experiment framework for early-exit convolutional networks."""

__version__ = "0.1.0"
