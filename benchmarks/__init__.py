"""Benchmarks at chain scale: a data generator and a runner that prints figures (not timed tests)."""
