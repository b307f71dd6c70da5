"""Measuring what real skip buys: timing on a shared machine, networks and exit mixes to time, real skip against
the plain network, static and library baselines, onnxruntime, and where the tables go. The library behind
``benchmarks/latency.py`` and the other benchmarks (imported, not copied, by each)."""
