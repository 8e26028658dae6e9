"""Benchmarks of the learning-curve extrapolation scheduler (``tunestack.schedulers.lce``)."""
