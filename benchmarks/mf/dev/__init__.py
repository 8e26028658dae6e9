"""Development benchmarks for the multi-fidelity schedulers (not the reported ones: see README.md)."""
